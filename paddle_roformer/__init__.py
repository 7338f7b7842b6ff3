"""RoFormer (Su et al., 2021) for PaddlePaddle: rotary-position BERT-style encoders and their heads."""
from .config import RoFormerConfig
from .heads import (
    RoFormerForCausalLM,
    RoFormerForMaskedLM,
    RoFormerForMultipleChoice,
    RoFormerForQuestionAnswering,
    RoFormerForSequenceClassification,
    RoFormerForTokenClassification,
)
from .modeling import RoFormerModel
from .pretrained import LoadReport, RoFormerPretrainedModel
from .registry import UnknownModelError, get_pretrained, list_pretrained
from .tokenizer import BatchEncoding, RoFormerTokenizer
from .vocab import build_vocab

__version__ = "0.1.0"

__all__ = [
    "RoFormerConfig",
    "RoFormerModel",
    "RoFormerPretrainedModel",
    "RoFormerForSequenceClassification",
    "RoFormerForTokenClassification",
    "RoFormerForQuestionAnswering",
    "RoFormerForMultipleChoice",
    "RoFormerForMaskedLM",
    "RoFormerForCausalLM",
    "RoFormerTokenizer",
    "BatchEncoding",
    "build_vocab",
    "LoadReport",
    "UnknownModelError",
    "get_pretrained",
    "list_pretrained",
]
