"""LiteLLM loads the callback by file path, outside any package: test exactly that way.

As in the container and with `manage_langfuse.py proxy`: the config sits in a runtime
directory with `callbacks` linked beside it (callbacks/proxy_entrypoint.py), LiteLLM's
`get_instance_fn` resolves `callbacks.langfuse_v4.handler` relative to the config, and the
process runs from another working directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from callbacks.proxy_entrypoint import prepare_runtime_config

LOAD_LIKE_LITELLM = """
import json, sys
from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy.types_utils.utils import get_instance_fn

config = sys.argv[1]
first = get_instance_fn("callbacks.langfuse_v4.handler", config_file_path=config)
again = get_instance_fn("callbacks.langfuse_v4.handler", config_file_path=config)
print(json.dumps({
    "class": type(first).__name__,
    "is_custom_logger": isinstance(first, CustomLogger),
    "same_instance": first is again,
    "package_named_callbacks_imported": "callbacks" in sys.modules,
}))
"""


def test_litellm_loads_the_handler_by_path_from_another_directory(tmp_path: Path) -> None:
    config = tmp_path / "source" / "litellm_config.yml"
    config.parent.mkdir()
    config.write_text("model_list: []\n")
    rendered = prepare_runtime_config(config, {}, tmp_path / "runtime")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        **os.environ,
        "LLMOPS_SPOOL_DIR": str(tmp_path / "spool"),
        "LANGFUSE_HOST": "http://127.0.0.1:9",
        "PYTHONPATH": "",
    }
    result = subprocess.run(
        [sys.executable, "-c", LOAD_LIKE_LITELLM, str(rendered)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {
        "class": "LangfuseV4Logger",
        "is_custom_logger": True,
        "same_instance": True,
        "package_named_callbacks_imported": False,
    }
    assert (tmp_path / "spool" / "spool.db").is_file()
