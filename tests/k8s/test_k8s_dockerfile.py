"""The image build matches what the Deployments expect of it.

No container engine runs in CI, so the Dockerfile is checked as text: multi-stage, the
runtime lock (only, hash-checked) installed and protos generated in the builder, a non-root
final stage whose uid matches the pods' runAsUser, and an exec-form `python -m` entrypoint
that the Deployments' args complete.
"""

from __future__ import annotations

import json
import re

from k8s_platform import K8S_ROOT, WORKLOADS
from kustomize_real import load_documents

DOCKERFILE = (K8S_ROOT / "Dockerfile").read_text(encoding="utf-8")
INSTRUCTIONS = [line.strip() for line in DOCKERFILE.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]


def final_stage() -> list[str]:
    """Return the instructions after the last FROM."""
    last_from = max(i for i, line in enumerate(INSTRUCTIONS) if line.startswith("FROM "))
    return INSTRUCTIONS[last_from:]


class TestDockerfile:
    """Build stages and runtime settings."""

    def test_multi_stage_from_python_311_slim(self) -> None:
        """Two stages from one ARG that defaults to python:3.11-slim (digest set in CI)."""
        froms = [line for line in INSTRUCTIONS if line.startswith("FROM ")]
        assert len(froms) == 2
        assert all("${PYTHON_IMAGE}" in line for line in froms)
        assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE
        assert re.search(r"sha256:0{64}", DOCKERFILE), "placeholder digest comment missing"

    def test_builder_installs_lock_and_generates_protos(self) -> None:
        """The image venv gets the runtime lock only, hash-checked; codegen stays in the builder."""
        assert "RUN python -m venv --without-pip /opt/venv" in INSTRUCTIONS
        assert ("RUN pip install --require-hashes --python /opt/venv/bin/python "
                "-r requirements.lock") in INSTRUCTIONS
        assert ("RUN /opt/codegen/bin/pip install --require-hashes -r requirements-codegen.lock"
                in INSTRUCTIONS)
        assert "RUN /opt/codegen/bin/python tools/gen_protos.py" in INSTRUCTIONS
        installs = [line for line in INSTRUCTIONS if "pip install" in line]
        assert all("--require-hashes" in line for line in installs)
        assert not any("requirements-dev.lock" in line for line in INSTRUCTIONS)
        stage = final_stage()
        assert "COPY --from=builder /opt/venv /opt/venv" in stage
        assert not any("/opt/codegen" in line for line in stage)

    def test_final_stage_is_non_root_exec_form(self) -> None:
        """The final stage runs as 10001 with ENTRYPOINT ["python", "-m"]."""
        stage = final_stage()
        assert "USER 10001:10001" in stage
        entrypoints = [line for line in stage if line.startswith("ENTRYPOINT")]
        assert [json.loads(line.removeprefix("ENTRYPOINT ")) for line in entrypoints] == [
            ["python", "-m"]
        ]
        assert not any(line.startswith("CMD") for line in stage)

    def test_pods_match_the_image(self) -> None:
        """Each Deployment runs the image's uid and passes its module as args."""
        for workload in WORKLOADS:
            (deployment,) = load_documents(K8S_ROOT / "base" / workload.name / "deployment.yaml")
            pod = deployment["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsUser"] == 10001
            assert pod["containers"][0]["args"] == [workload.module]
            assert pod["containers"][0]["image"] == workload.image
