"""The instruction tokenizer of a VLA, loaded from a path (never a hub): a pi0 checkpoint's PaliGemma
SentencePiece tokenizer, or any tokenizer folder `transformers.AutoTokenizer` reads. For a toy model
(tests, a VLM trained here from scratch) `build_word_tokenizer` makes a word-level one from the
instructions with `tokenizers` and saves it in the same folder format."""

from __future__ import annotations

from pathlib import Path


def load_tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no tokenizer folder at {path} (a pi0 checkpoint's tokenizer, or one from "
                                f"build_word_tokenizer)")
    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} is not a tokenizer folder transformers can read: {err}") from err


def build_word_tokenizer(texts: list[str], path: str | Path, vocab_size: int | None = None):
    """A word-level tokenizer over the words of `texts` (ids 0 = [PAD], 1 = [UNK]), saved to `path`."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for text in texts for w in text.lower().split()})
    vocab = {"[PAD]": 0, "[UNK]": 1} | {w: i + 2 for i, w in enumerate(words)}
    if vocab_size is not None and len(vocab) > vocab_size:
        raise ValueError(f"{len(vocab)} words do not fit a vocabulary of {vocab_size}")
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]")
    tokenizer.save_pretrained(str(path))
    return tokenizer
