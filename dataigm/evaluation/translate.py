"""The translation hook: fill a multilingual prompt set through a translation model the user names.

The model is any sequence-to-sequence translation model `AutoModelForSeq2SeqLM.from_pretrained`
loads (a hub id or a folder: Marian `Helsinki-NLP/opus-mt-en-de`, NLLB, M2M100, T5 with a
`prefix`), with its tokenizer from `AutoTokenizer.from_pretrained`. (transformers 5 removed the
`translation` pipeline; these are the loaders it wrapped.) Decoding is greedy, so a translation
is reproducible. A model that cannot be loaded (offline, no weights) is one line, "translation
model ... unavailable: <reason>": nothing is ever translated by anything else.

Each translated prompt keeps the base id of the prompt it translates (so the same seeds as the
original) and records its language, the original prompt and id, the model (name and a digest of
its config) and the decoding; the result is a prompt set (`lang-<code>` by default) written like
an imported one (a prompt file for `sample`, and/or RUN/eval_prompts.parquet).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from dataigm.errors import InputError, MissingExtraError, one_line
from dataigm.evaluation.prompt_import import LANGUAGE_CODE, deliver
from dataigm.evaluation.prompts import EvalPrompt, check_set_name, load_prompts
from dataigm.taxonomy import load_concept


class TranslationUnavailable(InputError):
    """The named translation model cannot be loaded here."""


@dataclass
class TranslateConfig:
    """Settings of `dataigm prompts translate`."""

    source: str = ""                   # a dataset folder / hub id (its prompts config) or a prompt file
    concepts: list[str] = field(default_factory=list)
    model: str = ""                    # seq2seq translation model: hub id or folder
    language: str = ""                 # the target language's code (de, fr, zh-Hans, ...)
    source_language: str = "en"
    prompt_sets: list[str] = field(default_factory=lambda: ["forget"])   # which sets of a dataset
    benchmark_only: bool = True
    prompt_set: str = ""               # the new set's name; default lang-<language>
    prefix: str = ""                   # put before each prompt (T5: "translate English to German: ")
    forced_bos_token: str = ""         # target-language token of multilingual models (NLLB: deu_Latn)
    max_new_tokens: int = 96
    batch_size: int = 16
    device: str = "cpu"
    out: str | None = None
    run: str | None = None

    def validate(self) -> None:
        if not self.source:
            raise ValueError("source: give the prompts to translate (a dataset or a prompt file)")
        if not self.concepts:
            raise ValueError("concepts: name at least one concept")
        if not self.model:
            raise ValueError("model: name a translation model (hub id or folder)")
        if not LANGUAGE_CODE.match(self.language or ""):
            raise ValueError(f"language: '{self.language}' is not a language code (de, fr, zh-Hans, ...)")
        if self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError("max_new_tokens and batch_size: must be >= 1")
        if not self.out and not self.run:
            raise ValueError("out: give --out FILE.jsonl (a prompt file for sample) and/or --run RUN")


class Translator:
    """A translation model and its tokenizer, loaded through transformers' own loaders."""

    def __init__(self, config: TranslateConfig) -> None:
        try:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        except ImportError:
            raise MissingExtraError("gen", "transformers") from None
        local = Path(config.model)
        if config.model.startswith((".", "/", "~")) and not local.exists():
            raise TranslationUnavailable(f"translation model '{config.model}' unavailable: no such folder")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(config.model)
            self.model = AutoModelForSeq2SeqLM.from_pretrained(config.model).to(config.device).eval()
        except Exception as exc:  # noqa: BLE001 - offline, unknown id, not a seq2seq folder: one line
            raise TranslationUnavailable(f"translation model '{config.model}' unavailable: "
                                         f"{one_line(exc)[:240]}") from None
        self.config = config
        folder = Path(config.model)
        digest = hashlib.sha256(repr(sorted(self.model.config.to_dict().items())).encode()).hexdigest()[:8]
        self.identity = f"{folder.name if folder.is_dir() else config.model}-{digest}"
        self.random_init = bool(getattr(self.model.config, "dataigm_random_init", False))
        self.forced_bos = None
        if config.forced_bos_token:
            token_id = self.tokenizer.convert_tokens_to_ids(config.forced_bos_token)
            if token_id is None or token_id == self.tokenizer.unk_token_id:
                raise InputError(f"forced_bos_token: '{config.forced_bos_token}' is not a token of {config.model}")
            self.forced_bos = token_id

    def __call__(self, texts: Sequence[str]) -> list[str]:
        import torch

        out: list[str] = []
        step = self.config.batch_size
        for start in range(0, len(texts), step):
            batch = [self.config.prefix + t for t in texts[start:start + step]]
            inputs = self.tokenizer(batch, return_tensors="pt", padding=True, truncation=True)
            extra: dict[str, Any] = {"forced_bos_token_id": self.forced_bos} if self.forced_bos is not None else {}
            with torch.no_grad():
                ids = self.model.generate(**{k: v.to(self.config.device) for k, v in inputs.items()},
                                          do_sample=False, num_beams=1, max_new_tokens=self.config.max_new_tokens,
                                          **extra)
            out += [" ".join(t.split()) for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]
        return out


@dataclass
class TranslateReport:
    prompts: list[EvalPrompt]
    model: str
    random_init: bool
    written: list[Path]

    def summary(self) -> str:
        note = " (random-init model: the plumbing, not a translation)" if self.random_init else ""
        return (f"translated {len(self.prompts)} prompts with {self.model}{note} -> "
                + ", ".join(str(p) for p in self.written))


def translate_prompts(config: TranslateConfig) -> TranslateReport:
    """Translate the source prompts into a new prompt set (see the module docstring)."""
    specs = {}
    for ref in config.concepts:
        spec = load_concept(ref)
        specs[spec.name] = spec
    prompt_set = check_set_name(config.prompt_set or f"lang-{config.language.lower()}", "prompt_set")
    translator = Translator(config)   # first: an unavailable model fails before anything is read
    originals = load_prompts(config.source, specs, prompt_sets=config.prompt_sets,
                             benchmark_only=config.benchmark_only)
    if not originals:
        raise InputError(f"{config.source}: no prompts to translate (sets {', '.join(config.prompt_sets)})")
    texts = translator([p.prompt for p in originals])
    out = []
    for p, text in zip(originals, texts):
        if not text:
            raise InputError(f"{config.model}: translated prompt '{p.prompt_id}' to an empty text")
        out.append(EvalPrompt(
            prompt_id=f"{p.prompt_id}-{prompt_set}", concept=p.concept, prompt_set=prompt_set, prompt=text,
            base_id=p.base_id, seed=p.seed, names_concept=specs[p.concept].names_concept(text),
            provenance={"kind": "multilingual", "language": config.language, "source_language": config.source_language,
                        "base_prompt": p.prompt, "base_prompt_id": p.prompt_id, "translation_model": translator.identity,
                        "translation_random_init": translator.random_init, "decoding": "greedy",
                        "source": f"dataigm translate ({translator.identity})",
                        "licence": p.provenance.get("licence") or "unknown"},
        ))
    return TranslateReport(out, translator.identity, translator.random_init, deliver(out, config.out, config.run))
