"""The llama.cpp objects the batched engine makes (a context's parameters, a request's sampler chain) and
what it keeps of a sequence's memory for the next request.

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


def samples_on_backend(llama: Any, ctx: Any) -> bool:
    """Whether this build and device take a sampler chain into the graph: a probe chain attached and taken off."""
    from pytest_gptoss.backends.engine import EngineRequest

    probe = sampler_chain(llama, EngineRequest((0,), 1, 0, 1.0, 1.0, frozenset()))
    attached = bool(llama.llama_set_sampler(ctx, 0, probe))
    llama.llama_set_sampler(ctx, 0, None)
    llama.llama_sampler_free(probe)
    return attached


def clear_memory(llama: Any, ctx: Any, seq: int) -> None:
    """Empty sequence ``seq``'s memory."""
    llama.llama_memory_seq_rm(llama.llama_get_memory(ctx), seq, -1, -1)


def default_threads(*, batch: bool = False) -> int:
    """llama-cpp-python's defaults: half the cores for decoding, all of them for prefill."""
    import multiprocessing

    cores = multiprocessing.cpu_count()
    return cores if batch else max(cores // 2, 1)


def round_up(tokens: int) -> int:
    """``tokens`` rounded up to a whole number of :data:`CTX_ROUND`."""
    return -(-tokens // CTX_ROUND) * CTX_ROUND


def common_length(kept: tuple[int, ...], prompt: tuple[int, ...]) -> int:
    """How many tokens ``kept`` and ``prompt`` share from their start (a search over slices, which compare in C)."""
    low, high = 0, min(len(kept), len(prompt))
    while low < high:
        middle = (low + high + 1) // 2
        if kept[:middle] == prompt[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def keep_prefix(llama: Any, ctx: Any, model: Any, seq: int, kept: tuple[int, ...], prompt: tuple[int, ...]) -> int:
    """Keep the part of ``seq``'s memory, which holds ``kept``, that ``prompt`` begins with; how many tokens that is.

    The prompt's last token is always fed again, for its logits. Where nothing can be kept the memory is
    emptied and 0 returned: nothing in common, or a sliding-window layer that no longer holds the window
    before the first token to be fed.
    """
    common = common_length(kept, prompt[:-1])
    memory = llama.llama_get_memory(ctx)
    window = int(llama.llama_model_n_swa(model))
    whole = not window or llama.llama_memory_seq_pos_min(memory, seq) <= max(0, common - window)
    if common and whole and llama.llama_memory_seq_rm(memory, seq, common, -1):
        return common
    clear_memory(llama, ctx, seq)
    return 0
