"""A tiny GLM-family causal LM built locally: tokenizer trained on our own texts + random weights.

Used by tests, the demo and the CPU benchmark so nothing is ever downloaded from a model hub.

Tokenizer: byte-level BPE trained with the ``tokenizers`` library. Byte level means every string -
Chinese characters, full-width punctuation, emoji - encodes without ``<unk>`` (unseen characters fall
back to their UTF-8 bytes) and decodes back exactly. Special tokens: ``<pad>`` (id 0), ``<s>`` (bos, 1),
``</s>`` (eos, 2), ``<unk>`` (3, never produced by the byte-level model; present because some callers
expect an unk token). Encoding adds **no** special tokens (like ChatGLM2's prompt-then-answer recipe,
we add eos ourselves after each target), and the tokenizer ships **no chat_template**: callers format
prompts with the ChatGLM2 ``[Round N]\\n\\n问：…\\n\\n答：`` template (``assistant.train.templates``), which
is what the model is fine-tuned on.

Model: ``GlmForCausalLM`` (transformers' GLM family, the architecture line of ChatGLM2/GLM-4) from a
small ``GlmConfig``; weights are random (seeded), so the model is only useful after training.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2000):
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on ``texts`` (no <unk> for any input)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # use_regex=True keeps GPT-2's split of digits / letters / punctuation, so runs of Chinese
    # characters form words and merges learn frequent statute phrases (第…条, 人民法院 …).
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=max(vocab_size, 256 + len(SPECIAL_TOKENS)),
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes: nothing is ever unknown
        show_progress=False,
    )
    tok.train_from_iterator((t for t in texts if t), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS, unk_token=UNK,
        padding_side="left",  # left padding is what batched generation needs; the SFT collator pads right itself
        model_max_length=2048,
        clean_up_tokenization_spaces=False,
    )


def build_tiny_model(out_dir, texts: Iterable[str], *, vocab_size: int = 2000, seed: int = 0,
                     hidden_size: int = 64, num_layers: int = 2, num_heads: int = 4,
                     num_kv_heads: int = 2, intermediate_size: int | None = None,
                     max_positions: int = 2048) -> Path:
    """Train a tokenizer on ``texts`` and save it with a random ``GlmForCausalLM`` into ``out_dir``.

    ``AutoTokenizer.from_pretrained(out_dir)`` and ``AutoModelForCausalLM.from_pretrained(out_dir)``
    then load them offline. Returns ``out_dir`` as a Path.
    """
    import torch
    from transformers import GenerationConfig, GlmConfig, GlmForCausalLM

    from assistant.threads import limit_torch_threads

    limit_torch_threads()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(texts, vocab_size=vocab_size)
    if hidden_size % num_heads:
        raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
    config = GlmConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or 2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        head_dim=hidden_size // num_heads,
        max_position_embeddings=max_positions,
        rms_norm_eps=1e-5,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = GlmForCausalLM(config)
    model.generation_config = GenerationConfig(
        do_sample=False, max_new_tokens=128,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "tiny_model.json").write_text(json.dumps({
        "built_by": "assistant.train.tiny.build_tiny_model", "seed": seed, "vocab_size": len(tokenizer),
        "hidden_size": hidden_size, "num_layers": num_layers,
        "parameters": sum(p.numel() for p in model.parameters()),
        "chat_template": None, "prompt_template": "chatglm2",
    }, ensure_ascii=False, indent=2), encoding="utf-8")
    return out


def corpus_texts(store, limit: int | None = None, in_force_only: bool = True) -> list[str]:
    """Tokenizer training texts from an ArticleStore: each article's label plus text."""
    texts = []
    for art in store.articles(in_force_only=in_force_only):
        texts.append(art.searchable_text())
        if limit and len(texts) >= limit:
            break
    return texts
