"""llmops_kit: the management library behind manage_langfuse.py.

Public surface: the CLI (`llmops_kit.cli.main`) and the settings module
(`llmops_kit.settings`). Everything else is an implementation room of one job.
"""

__version__ = "0.1.0"
