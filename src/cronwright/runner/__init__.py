"""The runner: spawns and supervises one plugin process for one job (plugins.md §3–§7).

No HTTP, no SQL, no engine imports: a remote agent reuses this package unchanged. The contract
is in ``base``; ``JobRun`` implements it.
"""

from cronwright.runner.base import KillPolicy, OutputFile, RunResult, RunSink, RunSpec, Stats
from cronwright.runner.environment import ParamNames, build_environment
from cronwright.runner.job import JobRun
from cronwright.runner.outputs import resolve_output_files

__all__ = [
    "JobRun",
    "KillPolicy",
    "OutputFile",
    "ParamNames",
    "RunResult",
    "RunSink",
    "RunSpec",
    "Stats",
    "build_environment",
    "resolve_output_files",
]
