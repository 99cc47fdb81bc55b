"""Settings of the risk service (the only module that reads the environment)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from pydantic import model_validator

from crm_runtime.config import BaseServiceSettings


def _pairs(text: str, name: str) -> dict[str, Decimal]:
    """Parse "KEY=number,KEY=number" into a mapping; raise ValueError naming the setting."""
    result: dict[str, Decimal] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        try:
            number = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"{name}: {item!r} is not KEY=number") from exc
        if not sep or not key.strip() or not number.is_finite() or number <= 0:
            raise ValueError(f"{name}: {item!r} is not KEY=positive number")
        result[key.strip().upper()] = number
    return result


class RiskSettings(BaseServiceSettings):
    """Risk service settings; personal-data keys are mandatory (guarantors, related persons)."""

    service_name: str = "risk"
    grpc_port: int = 50062
    database_url: str = "sqlite+aiosqlite:///var/risk.db"

    # Monitoring: the rule set used until one is stored through UpdateMonitoringRuleset.
    monitoring_ruleset_version: str = "MON-2027.1"
    # Largest batch accepted on the monitoring stream.
    monitoring_max_batch: int = 2000
    # Every interval, when no batch is waiting, dirty client states are checkpointed for about
    # this much time (0 saves none until a graceful stop); the batch log replays whatever is
    # not checkpointed yet (see monitoring/store/durable.py).
    monitoring_checkpoint_interval_seconds: float = 0.25
    monitoring_checkpoint_ms: float = 3.0
    # Monitoring partitions (docs/MONITORING.md, "Partitions"): tracing units are hashed into
    # MONITORING_PARTITIONS partitions named after MONITORING_PARTITION, each owned by one
    # replica at a time under a lease. The count is fixed for a store's life; every replica
    # must use the same one. One partition keeps the plain name (stores from before).
    monitoring_partition: str = "default"
    monitoring_partitions: int = 1
    # This replica's name among the owners (default: host and process id).
    monitoring_member: str = ""
    # A lease lasts this long unless renewed; replicas renew and rebalance every heartbeat. A
    # crashed owner's partitions move after at most lease + heartbeat seconds.
    monitoring_lease_seconds: float = 5.0
    monitoring_heartbeat_seconds: float = 1.0
    # How often an owner looks for postings other replicas logged for its partitions, and how
    # long a replica waits for the owner's result before acknowledging with AWAITING_OWNER.
    monitoring_drain_interval_seconds: float = 0.02
    monitoring_result_wait_seconds: float = 30.0
    # Batches a stream may have in flight: the next batch is decoded while one commits.
    monitoring_stream_depth: int = 4
    # Days of posting history kept in the batch log for rule-set back-tests.
    monitoring_history_days: float = 90.0

    # Concentration limits (DOMAIN §5). Net capital in CNY yuan; shares are fractions.
    net_capital: Decimal = Decimal("50000000000")
    # The bank's total loans in CNY: the base of industry and region limits (or the registered
    # exposure, when larger).
    loan_book: Decimal = Decimal("400000000000")
    single_client_limit: float = 0.10
    group_limit: float = 0.15
    # Industry limits as "SECTION=share of total exposure", e.g. "K=0.20,C=0.45"; the default
    # covers every other section.
    industry_limits: str = "K=0.20"
    default_industry_limit: float = 0.35
    # Region limits as "PROVINCE=share of total exposure" (first two digits of GB/T 2260).
    region_limits: str = ""
    default_region_limit: float = 0.40
    # Share of a limit at which a warning is raised before the limit itself is reached.
    limit_warning_use: float = 0.8
    # Project finance: how many percentage points cumulative drawdowns (share of the budget)
    # may run ahead of verified physical progress before a warning (a plan may set its own).
    project_margin_points: float = 20.0
    # Exchange rates to CNY for facilities in other currencies, "USD=7.10,EUR=7.80".
    fx_rates_to_cny: str = "USD=7.10,EUR=7.80,HKD=0.91,JPY=0.047"

    # Periodic review: how often the scheduler looks for due reviews and requested re-ratings,
    # and the pause between two re-ratings: short when the monitoring stream is quiet, long
    # while it is busy (a re-rating costs ~20 ms of the core the stream needs).
    # Full garbage collections: CPython's own are deferred in the service process (they take
    # 30-100 ms over the monitoring state and would land on stream batches); the service runs
    # one this often, when the stream is quiet (or after twice this long regardless).
    gc_defer_full_collections: bool = True
    gc_full_interval_seconds: float = 600.0
    review_enabled: bool = True
    review_interval_seconds: float = 60.0
    review_pause_seconds: float = 0.2
    review_busy_pause_seconds: float = 2.0

    # Contagion through groups and guarantees (docs/GROUPS.md): a downgrade to this grade or
    # worse, a red warning or a non-performing facility warns the clients within this many
    # steps (guarantees either way, shared groups).
    contagion_grade: str = "B-"
    contagion_depth: int = 2

    @model_validator(mode="after")
    def _check(self) -> RiskSettings:
        if self.pii_keys() is None or not self.pii_index_key:
            raise ValueError("PII_KEYRING (or PII_ENCRYPTION_KEY) and PII_INDEX_KEY are required")
        for name in ("single_client_limit", "group_limit", "default_industry_limit",
                     "default_region_limit", "limit_warning_use"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name.upper()} must be a share in (0, 1]")
        if self.net_capital <= 0 or self.loan_book < 0:
            raise ValueError("NET_CAPITAL must be positive and LOAN_BOOK not negative")
        if not 1 <= self.monitoring_max_batch <= 10_000:
            raise ValueError("MONITORING_MAX_BATCH must be 1 to 10000")
        if not 1 <= self.monitoring_partitions <= 1024:
            raise ValueError("MONITORING_PARTITIONS must be 1 to 1024")
        if not 0 < 2 * self.monitoring_heartbeat_seconds < self.monitoring_lease_seconds:
            raise ValueError("MONITORING_LEASE_SECONDS must exceed two heartbeats")
        if not 0 <= self.monitoring_history_days <= 3650:
            raise ValueError("MONITORING_HISTORY_DAYS must be 0 to 3650")
        if not 0 < self.project_margin_points <= 100:
            raise ValueError("PROJECT_MARGIN_POINTS must be in (0, 100]")
        if not 1 <= self.contagion_depth <= 10:
            raise ValueError("CONTAGION_DEPTH must be 1 to 10")
        self.industry_limit_map()
        self.region_limit_map()
        self.fx_rates()
        return self

    def industry_limit_map(self) -> dict[str, float]:
        """Return industry section → limit share."""
        return {k: float(v) for k, v in _pairs(self.industry_limits, "INDUSTRY_LIMITS").items()}

    def region_limit_map(self) -> dict[str, float]:
        """Return province code → limit share."""
        return {k: float(v) for k, v in _pairs(self.region_limits, "REGION_LIMITS").items()}

    def fx_rates(self) -> dict[str, Decimal]:
        """Return currency → CNY per unit, CNY included."""
        return {"CNY": Decimal(1), **_pairs(self.fx_rates_to_cny, "FX_RATES_TO_CNY")}
