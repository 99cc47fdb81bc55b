"""Names and accounts of the synthetic world: unique firms, people, banks and payees.

Names are fictional compositions (city + brand + trade + legal form); every name and account is
unique within one world, so a supplier never collides with a related party by accident.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from crm_risk.monitoring.engine.model import CounterpartyType

CITIES = (
    "苏州", "无锡", "常州", "南通", "宁波", "温州", "绍兴", "嘉兴", "合肥", "芜湖", "佛山",
    "东莞", "中山", "泉州", "厦门", "青岛", "烟台", "潍坊", "郑州", "洛阳", "武汉", "长沙",
    "成都", "重庆", "西安", "天津", "唐山", "沈阳", "大连", "昆明", "南昌", "济南", "石家庄",
    "太原", "南宁", "贵阳", "徐州", "扬州", "台州", "金华",
)
BRANDS = (
    "恒达", "华盛", "永信", "金源", "宏图", "瑞丰", "鑫海", "新锐", "联创", "东方", "中科", "博远",
    "天润", "广泰", "同舟", "汇通", "盛世", "安泰", "明阳", "正邦", "星辰", "嘉禾", "润泽", "百川",
    "凯旋", "宝丰", "长青", "锦程", "远景", "海川", "德润", "卓越", "立信", "恒丰", "华远", "鼎盛",
    "天成", "万通", "亿嘉", "振华", "通达", "佳利", "弘毅", "晨光", "高盛", "启明", "鸿运", "祥和",
    "富源", "泰和", "新纪元", "大洋", "环宇", "精工", "协力", "聚源", "众诚", "伟业", "昌盛",
    "兆丰", "金桥", "银河", "华美", "海纳", "蓝天", "绿源", "瑞达", "宏盛", "隆基", "国泰",
)
TRADES = (
    ("机械制造", "C3490"), ("纺织", "C1751"), ("化工", "C2614"), ("电子科技", "C3982"),
    ("汽车零部件", "C3670"), ("食品", "C1391"), ("建材", "C3021"), ("钢材贸易", "F5174"),
    ("物流", "G5430"), ("医药", "C2720"), ("包装材料", "C2231"), ("塑料制品", "C2929"),
    ("电力设备", "C3829"), ("软件", "I6510"), ("商贸", "F5199"), ("新能源科技", "D4416"),
    ("印刷", "C2319"), ("家具", "C2110"), ("五金", "C3389"), ("精密仪器", "C4019"),
    ("农产品", "A0190"), ("服装", "C1810"), ("环保工程", "N7723"), ("信息技术", "I6531"),
    ("供应链管理", "L7299"), ("化纤", "C2822"), ("铝业", "C3216"), ("玻璃", "C3041"),
)
EQUIPMENT_TRADES = (("机械设备", "C3421"), ("数控机床", "C3421"), ("专用设备", "C3599"),
                    ("自动化设备", "C3499"), ("电气设备", "C3819"))
CONTRACTOR_TRADES = (("建设工程", "E4813"), ("建筑安装", "E4910"), ("路桥工程", "E4812"),
                     ("装饰工程", "E5011"))
SHELL_TRADES = (("商贸", "F5199"), ("贸易", "F5191"), ("供应链管理", "L7299"),
                ("实业", ""), ("科技", "I6590"), ("企业管理咨询", "L7211"))
FORMS = ("有限公司", "股份有限公司", "有限责任公司")
SURNAMES = (
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹",
    "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕", "苏", "卢", "蒋", "蔡", "贾", "丁", "魏", "薛",
)
GIVEN = (
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "英",
    "华", "建", "国", "志", "海", "燕", "文", "博", "丽", "平", "刚", "桂", "红", "辉", "鹏", "霞",
    "玲", "斌", "宇", "浩", "凯", "琳", "欣", "婷", "晨", "阳", "雪", "梅", "峰", "亮", "波", "颖",
)
OTHER_BANKS = (
    "中国工商银行", "中国农业银行", "中国银行", "中国建设银行", "交通银行", "招商银行", "浦发银行",
    "中信银行", "民生银行", "平安银行", "兴业银行", "光大银行",
)


@dataclass(frozen=True, slots=True)
class Party:
    """A counterparty as core banking shows it."""

    name: str
    account: str
    industry: str
    kind: CounterpartyType
    bank: str = ""
    client: str = ""  # the counterparty's client id when it is a client of this bank


class NameBook:
    """Hand out unique names and account numbers from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        """Draw from ``rng``; remember everything handed out."""
        self.rng = rng
        self._names: set[str] = set()
        self._accounts = 0

    def account(self, prefix: str = "6222") -> str:
        """Return a new unique account number."""
        self._accounts += 1
        return f"{prefix}{self._accounts:012d}"

    def _unique(self, make: str) -> str:
        name, attempt = make, 0
        while name in self._names:
            attempt += 1
            name = f"{make[:-4]}{attempt + 1}号{make[-4:]}" if len(make) > 6 else f"{make}{attempt}"
        self._names.add(name)
        return name

    def company(self, trades: tuple[tuple[str, str], ...] = TRADES, *,
                kind: CounterpartyType = "corporate", bank: str = "") -> Party:
        """Return an ordinary firm of a random trade."""
        rng = self.rng
        trade, code = rng.choice(trades)
        name = self._unique(f"{rng.choice(CITIES)}{rng.choice(BRANDS)}{trade}{rng.choice(FORMS)}")
        return Party(name, self.account(), code, kind, bank)

    def named(self, pattern: str, industry: str, kind: CounterpartyType,
              bank: str = "") -> Party:
        """Return a firm named by ``pattern`` with ``{city}``, ``{brand}``, ``{bank}`` filled."""
        rng = self.rng
        name = pattern.format(city=rng.choice(CITIES), brand=rng.choice(BRANDS),
                              bank=rng.choice(OTHER_BANKS))
        return Party(self._unique(name), self.account(), industry, kind, bank)

    def person(self) -> Party:
        """Return a natural person with a personal account."""
        rng = self.rng
        for _ in range(60):
            given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
            name = rng.choice(SURNAMES) + given
            if name not in self._names:
                break
        else:
            name = self._unique(name)
        self._names.add(name)
        return Party(name, self.account("6217"), "", "individual")

    def other_bank(self) -> str:
        """Return the name of another bank."""
        return self.rng.choice(OTHER_BANKS)

    def city(self) -> str:
        """Return a random city name."""
        return self.rng.choice(CITIES)
