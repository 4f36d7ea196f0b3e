"""The llama.cpp objects the batched engine makes: a context's parameters and a request's sampler chain.

``llama`` is the ``llama_cpp`` module (its low-level API); nothing here holds state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_gptoss.backends.engine import EngineRequest, EngineSettings

#: tokens one ``llama_decode`` call takes at most (decoding tokens plus prefill chunks)
BATCH_TOKENS = 512
#: a sequence's context is allocated in multiples of this many tokens
CTX_ROUND = 256


def context_params(llama: Any, settings: EngineSettings, ctx_seq: int) -> Any:
    """Parameters for a context of ``settings.parallel`` sequences of ``ctx_seq`` tokens each."""
    params = llama.llama_context_default_params()
    params.n_ctx = ctx_seq * settings.parallel
    params.n_batch = BATCH_TOKENS
    params.n_ubatch = BATCH_TOKENS
    params.n_seq_max = settings.parallel
    params.n_threads = settings.threads or default_threads()
    params.n_threads_batch = settings.threads or default_threads(batch=True)
    params.flash_attn_type = {
        "auto": llama.LLAMA_FLASH_ATTN_TYPE_AUTO,
        "on": llama.LLAMA_FLASH_ATTN_TYPE_ENABLED,
        "off": llama.LLAMA_FLASH_ATTN_TYPE_DISABLED,
    }[settings.flash_attn]
    params.kv_unified = False
    # as llama-batched-bench and llama-server: a sliding-window layer keeps its window, not the context
    params.swa_full = False
    params.no_perf = True
    return params


def sampler_chain(llama: Any, request: EngineRequest) -> Any:
    """The request's own chain: greedy at temperature 0, else top-p -> temperature -> a draw seeded by it."""
    chain = llama.llama_sampler_chain_init(llama.llama_sampler_chain_default_params())
    if request.temperature <= 0:
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_greedy())
        return chain
    if request.top_p < 1.0:
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_p(request.top_p, 1))
    llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_temp(request.temperature))
    llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_dist(request.seed & 0xFFFFFFFF))
    return chain


def default_threads(*, batch: bool = False) -> int:
    """llama-cpp-python's defaults: half the cores for decoding, all of them for prefill."""
    import multiprocessing

    cores = multiprocessing.cpu_count()
    return cores if batch else max(cores // 2, 1)


def round_up(tokens: int) -> int:
    """``tokens`` rounded up to a whole number of :data:`CTX_ROUND`."""
    return -(-tokens // CTX_ROUND) * CTX_ROUND
