"""llama-cpp-python's OpenAI-compatible server, started the way the tests need it.

    python tests/llama_server.py --model M.gguf --host 127.0.0.1 --port N [...]

takes the arguments of ``python -m llama_cpp.server``. On a CPU where llama.cpp
uses Intel AMX, its AMX kernels crashed the process on prompts of more than one
token with SmolLM2's Q4_1 weights. The plugin loads such a model without
llama.cpp's extra CPU buffer types (``backends/llama.py``); this starts the
server with the same setting, so that the server under test runs wherever the
plugin's in-process backend does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import llama_cpp.llama_cpp as bindings

from pytest_gptoss.backends.llama import avoids_extra_buffer_types


def main() -> None:
    model = Path(sys.argv[sys.argv.index("--model") + 1])
    if avoids_extra_buffer_types(model):
        default = bindings.llama_model_default_params

        def params() -> bindings.llama_model_params:
            chosen = default()
            chosen.use_extra_bufts = False
            return chosen

        bindings.llama_model_default_params = params
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
