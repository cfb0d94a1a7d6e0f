"""Cluster profiles: what a job asks the scheduler for, per protocol, as data.

A profile is read from the TOML or JSON file named by ``$AVF_CLUSTER_PROFILE`` (or passed explicitly); without
one, the built-in ``default`` profile asks for nothing site specific (1 CPU, no GPU, the default partition), which
runs on any SLURM cluster, the CI one included, but trains slowly. A real site writes a file such as::

    # clusters.toml -- one profile (top-level keys), or several under [profiles.<name>] with `default = "<name>"`
    partition = "gpu"
    account = "affect"
    gpus_per_node = 1
    cpus_per_task = 10
    mem_gb = 64
    timeout_min = 240
    array_parallelism = 32
    setup = ["module load cuda/12.4"]
    additional = { requeue = true }      # extra sbatch options, passed verbatim

    [protocols.paper]                    # fine-tuning: longer, more GPUs
    timeout_min = 1440
    gpus_per_node = 4
    [protocols.linear]
    timeout_min = 60

    [stages.stage1]                      # pre-training in a pipeline run: 2 nodes x 4 GPUs (8 ranks)
    nodes = 2
    gpus_per_node = 4                    # tasks_per_node follows: one task per GPU
    timeout_min = 2880
    [stages.stage3]                      # each fine-tuning run of the array: 1 GPU
    gpus_per_node = 1

Resolution order: the defaults, then the protocol's table, then the stage's table, then explicit overrides.
GPUs and tasks: every task drives one GPU, so `gpus_per_node = N` with the default `tasks_per_node = 1` derives
`tasks_per_node = N` (a single task would train on cuda:0 only); any other `tasks_per_node` that is not N is an
error.

``$AVF_CLUSTER`` (or ``load_profile(name=...)``) picks a profile in a multi-profile file.
Every job also gets ``export OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK`` first in its setup: without CPU binding
(``task/none``) torch would otherwise start one thread per core of the node in every job.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

try:
    import tomllib
except ImportError:  # Python 3.10
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ImportError:
        tomllib = None  # type: ignore[assignment]

PROFILE_ENV = "AVF_CLUSTER_PROFILE"
PROFILE_NAME_ENV = "AVF_CLUSTER"
STAGES = ("stage1", "stage2", "stage3")
OMP_SETUP = "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}"


@dataclass(frozen=True)
class Resources:
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    gpus_per_node: int = 0
    cpus_per_task: int = 1
    mem_gb: float | None = None
    timeout_min: int = 60
    nodes: int = 1
    tasks_per_node: int = 1
    array_parallelism: int = 16
    setup: tuple = ()               # shell lines run before the job (module load, conda activate, ...)
    additional: tuple = ()          # sorted (option, value) pairs of extra sbatch options

    def __post_init__(self):
        add = self.additional
        pairs = add.items() if isinstance(add, Mapping) else add
        object.__setattr__(self, "additional", tuple(sorted((str(k), v) for k, v in pairs)))
        setup = self.setup
        object.__setattr__(self, "setup", (setup,) if isinstance(setup, str) else tuple(setup))
        for f in ("gpus_per_node", "cpus_per_task", "timeout_min", "nodes", "tasks_per_node", "array_parallelism"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"Resources.{f} must be a non-negative int, got {v!r}")
        if self.cpus_per_task < 1 or self.nodes < 1 or self.tasks_per_node < 1 or self.array_parallelism < 1:
            raise ValueError("cpus_per_task, nodes, tasks_per_node and array_parallelism must be >= 1")
        if self.gpus_per_node > 1 and self.tasks_per_node == 1:
            object.__setattr__(self, "tasks_per_node", self.gpus_per_node)    # one task (rank) per GPU
        elif self.gpus_per_node >= 1 and self.tasks_per_node != self.gpus_per_node:
            raise ValueError(f"tasks_per_node = {self.tasks_per_node} with gpus_per_node = {self.gpus_per_node}: every "
                             f"task drives one GPU, so set tasks_per_node = {self.gpus_per_node} (or leave it out)")

    def merged(self, **overrides: Any) -> "Resources":
        """A copy with the non-None ``overrides`` applied. One task per GPU stays one task per GPU: changing
        gpus_per_node alone re-derives tasks_per_node."""
        known = {f.name for f in fields(self)}
        bad = set(overrides) - known
        if bad:
            raise TypeError(f"unknown resource fields {sorted(bad)}; known: {sorted(known)}")
        changes = {k: v for k, v in overrides.items() if v is not None}
        if "gpus_per_node" in changes and "tasks_per_node" not in changes and self.gpus_per_node >= 1 \
                and self.tasks_per_node == self.gpus_per_node:
            changes["tasks_per_node"] = 1
        return replace(self, **changes)

    def to_submitit(self, cluster: str = "slurm") -> dict:
        """Parameters for ``AutoExecutor.update_parameters`` on ``cluster`` ("slurm" or "local")."""
        params: dict[str, Any] = {
            "timeout_min": self.timeout_min,
            "cpus_per_task": self.cpus_per_task,
            "gpus_per_node": self.gpus_per_node,
            "nodes": self.nodes,
            "tasks_per_node": self.tasks_per_node,
        }
        if self.mem_gb is not None:
            params["mem_gb"] = self.mem_gb
        if cluster == "slurm":
            for f in ("partition", "account", "qos", "constraint"):
                if getattr(self, f):
                    params[f"slurm_{f}"] = getattr(self, f)
            params["slurm_setup"] = [OMP_SETUP, *self.setup]
            params["slurm_array_parallelism"] = self.array_parallelism
            if self.additional:
                params["slurm_additional_parameters"] = dict(self.additional)
        elif cluster == "local":
            params.pop("cpus_per_task")
            params.pop("mem_gb", None)
            params.pop("nodes")
        return params

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["setup"] = list(self.setup)
        d["additional"] = dict(self.additional)
        return d


@dataclass(frozen=True)
class ClusterProfile:
    name: str
    defaults: Resources = Resources()
    protocols: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # per-protocol overrides
    source: str = "built-in"
    stages: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)     # per-stage overrides (stage1, ...)

    def resources(self, protocol: str | None = None, stage: str | None = None, **overrides: Any) -> Resources:
        """Resources for a protocol's job (or one stage of it): defaults, then the protocol's table, then the
        stage's table (``stage1``, ``stage2``, ``stage3``), then ``overrides`` (None = keep)."""
        res = self.defaults
        for extra in (self.protocols.get(protocol) if protocol is not None else None,
                      self.stages.get(stage) if stage is not None else None,
                      {k: v for k, v in overrides.items() if v is not None}):
            if extra:
                res = res.merged(**extra)
        return res


BUILTIN = ClusterProfile(
    name="default",
    defaults=Resources(cpus_per_task=1, timeout_min=120, array_parallelism=16),
    protocols={"paper": {"timeout_min": 1440}, "clean": {"timeout_min": 1440}, "linear": {"timeout_min": 120},
               "eval": {"timeout_min": 120}},
)

_RESOURCE_FIELDS = {f.name for f in fields(Resources)}


def _parse_one(name: str, table: Mapping[str, Any], source: str) -> ClusterProfile:
    table = dict(table)
    protocols = table.pop("protocols", {}) or {}
    stages = table.pop("stages", {}) or {}
    if not isinstance(stages, Mapping):
        raise ValueError(f"{source}: profile {name!r}: 'stages' must be a table of tables")
    for st, over in stages.items():
        if st not in STAGES:
            raise ValueError(f"{source}: [stages.{st}] of profile {name!r}: unknown stage; known: {list(STAGES)}")
        if not isinstance(over, Mapping) or set(over) - _RESOURCE_FIELDS:
            raise ValueError(f"{source}: [stages.{st}] of profile {name!r}: must be a table of resource fields; "
                             f"unknown keys {sorted(set(over) - _RESOURCE_FIELDS) if isinstance(over, Mapping) else over}")
    bad = set(table) - _RESOURCE_FIELDS
    if bad:
        raise ValueError(f"{source}: profile {name!r}: unknown keys {sorted(bad)}; known: {sorted(_RESOURCE_FIELDS)}")
    if not isinstance(protocols, Mapping):
        raise ValueError(f"{source}: profile {name!r}: 'protocols' must be a table of tables")
    for proto, over in protocols.items():
        if not isinstance(over, Mapping):
            raise ValueError(f"{source}: profile {name!r}: [protocols.{proto}] must be a table")
        badp = set(over) - _RESOURCE_FIELDS
        if badp:
            raise ValueError(f"{source}: [protocols.{proto}] of profile {name!r}: unknown keys {sorted(badp)}")
    try:
        defaults = Resources(**table)
        for over in (*protocols.values(), *stages.values()):
            defaults.merged(**over)  # validate now, not at submission time
        for over in protocols.values():
            for st in stages.values():
                defaults.merged(**over).merged(**st)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{source}: profile {name!r}: {e}") from None
    return ClusterProfile(name=name, defaults=defaults, protocols={k: dict(v) for k, v in protocols.items()},
                          source=source, stages={k: dict(v) for k, v in stages.items()})


def parse_profile(data: Mapping[str, Any], name: str | None = None, source: str = "<data>") -> ClusterProfile:
    """A profile from parsed TOML/JSON: single (top-level keys) or several (``[profiles.<name>]``)."""
    if "profiles" in data:
        profiles = data["profiles"]
        extra = set(data) - {"profiles", "default"}
        if extra:
            raise ValueError(f"{source}: with [profiles.*], only 'default' may stand at top level; found {sorted(extra)}")
        chosen = name or os.environ.get(PROFILE_NAME_ENV) or data.get("default") or next(iter(profiles), None)
        if chosen not in profiles:
            raise ValueError(f"{source}: no profile {chosen!r}; have {sorted(profiles)}")
        return _parse_one(chosen, profiles[chosen], source)
    return _parse_one(name or Path(source).stem, data, source)


def load_profile(path: str | os.PathLike | None = None, name: str | None = None) -> ClusterProfile:
    """The profile from ``path``, else ``$AVF_CLUSTER_PROFILE``, else the built-in default."""
    origin = "argument" if path else f"${PROFILE_ENV}"
    path = path or os.environ.get(PROFILE_ENV)
    if not path:
        return BUILTIN
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"cluster profile {p} (from {origin}) does not exist")
    text = p.read_text(encoding="utf-8")
    if p.suffix != ".json" and tomllib is None:
        raise RuntimeError(f"{p}: reading TOML needs Python >= 3.11 or `pip install tomli`; or write the profile as JSON")
    try:
        data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except ValueError as e:  # TOMLDecodeError is a ValueError
        raise ValueError(f"{p}: cannot parse cluster profile: {e}") from None
    return parse_profile(data, name=name, source=str(p))
