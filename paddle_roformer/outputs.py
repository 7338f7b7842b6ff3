"""Output records returned with ``return_dict=True``.

They index like the tuples returned with ``return_dict=False``: ``out[0]`` is the first field that
is not None, and ``out["logits"]`` / ``out.logits`` reach a field by name.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Optional, Tuple

from paddle import Tensor


@dataclass
class ModelOutput:
    def to_tuple(self) -> Tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None)

    def keys(self):
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def __getitem__(self, key):
        if isinstance(key, str):
            return getattr(self, key)
        return self.to_tuple()[key]

    def __iter__(self):
        return iter(self.to_tuple())

    def __len__(self) -> int:
        return len(self.to_tuple())


@dataclass
class BaseModelOutputWithPooling(ModelOutput):
    last_hidden_state: Optional[Tensor] = None
    pooler_output: Optional[Tensor] = None
    past_key_values: Optional[Tuple[Tuple[Tensor, Tensor], ...]] = None
    hidden_states: Optional[Tuple[Tensor, ...]] = None
    attentions: Optional[Tuple[Tensor, ...]] = None


@dataclass
class SequenceClassifierOutput(ModelOutput):
    loss: Optional[Tensor] = None
    logits: Optional[Tensor] = None
    hidden_states: Optional[Tuple[Tensor, ...]] = None
    attentions: Optional[Tuple[Tensor, ...]] = None


@dataclass
class TokenClassifierOutput(SequenceClassifierOutput):
    pass


@dataclass
class MultipleChoiceModelOutput(SequenceClassifierOutput):
    pass


@dataclass
class MaskedLMOutput(SequenceClassifierOutput):
    pass


@dataclass
class QuestionAnsweringModelOutput(ModelOutput):
    loss: Optional[Tensor] = None
    start_logits: Optional[Tensor] = None
    end_logits: Optional[Tensor] = None
    hidden_states: Optional[Tuple[Tensor, ...]] = None
    attentions: Optional[Tuple[Tensor, ...]] = None


@dataclass
class CausalLMOutput(ModelOutput):
    loss: Optional[Tensor] = None
    logits: Optional[Tensor] = None
    past_key_values: Optional[Tuple[Tuple[Tensor, Tensor], ...]] = None
    hidden_states: Optional[Tuple[Tensor, ...]] = None
    attentions: Optional[Tuple[Tensor, ...]] = None


def as_tuple(outputs: Tuple[Any, ...], loss: Optional[Tensor] = None):
    """PaddleNLP's tuple convention: drop Nones, put the loss first, unwrap a single element."""
    items = tuple(x for x in outputs if x is not None)
    if loss is not None:
        items = (loss,) + items
    return items[0] if len(items) == 1 else items
