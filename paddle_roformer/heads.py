"""Task heads: each is ``RoFormerModel`` plus a few layers, with PaddleNLP's names and outputs.

Every forward takes PaddleNLP's arguments in PaddleNLP's order and returns, by default, a tuple
with the loss first when labels are given (``return_dict=True`` gives a record instead).
"""
from __future__ import annotations

from typing import Optional

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import Tensor

from .config import RoFormerConfig
from .generation import GenerationMixin
from .modeling import RoFormerModel, get_activation
from .outputs import (
    CausalLMOutput,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
    as_tuple,
)
from .pretrained import RoFormerPretrainedModel


IGNORE_INDEX = -100  # a label that takes no part in a loss (padding, sub-word continuations, unmasked tokens)


def mean_cross_entropy(logits: Tensor, labels: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Cross-entropy of ``logits`` (..., C) against ``labels`` (...), averaged over the labels that are
    not ``ignore_index`` (0 when there are none).

    Written out because Paddle's ``F.cross_entropy(..., ignore_index=...)`` divides the sum by every
    label, ignored ones included, which shrinks the loss by the share of ignored labels; this is
    the mean that Hugging Face (torch) reports.
    """
    labels = labels.reshape([-1]).astype("int64")
    keep = labels != ignore_index
    safe = paddle.where(keep, labels, paddle.zeros_like(labels))
    per_label = F.cross_entropy(logits.reshape([-1, logits.shape[-1]]), safe, reduction="none").reshape([-1])
    weight = keep.astype(per_label.dtype)
    return (per_label * weight).sum() / weight.sum().clip(min=1.0)


def _classifier_dropout(config: RoFormerConfig) -> nn.Dropout:
    p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
    return nn.Dropout(p)


def _flag(value, default):
    return default if value is None else value


class _HeadBase(RoFormerPretrainedModel):
    """A backbone under ``self.roformer``; heads add their layers and call ``self._backbone``."""

    def __init__(self, config: RoFormerConfig, **overrides):
        super().__init__(config, **overrides)
        self.roformer = RoFormerModel(self.config)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.roformer.get_input_embeddings()

    def _backbone(self, input_ids, token_type_ids, attention_mask, inputs_embeds, output_hidden_states,
                  output_attentions, past_key_values=None, use_cache=False, position_ids=None):
        """Run the backbone and return its record (heads read its fields by name)."""
        return self.roformer(
            input_ids,
            position_ids=position_ids,
            token_type_ids=token_type_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            past_key_values=past_key_values,
            use_cache=use_cache,
            output_hidden_states=output_hidden_states,
            output_attentions=output_attentions,
            return_dict=True,
        )

    def _finish(self, record_cls, loss, return_dict, backbone, **fields):
        return_dict = _flag(return_dict, self.config.return_dict)
        record = record_cls(loss=loss, hidden_states=backbone.hidden_states, attentions=backbone.attentions, **fields)
        if return_dict:
            return record
        values = [v for k, v in vars(record).items() if k != "loss"]
        return as_tuple(tuple(values), loss)


class RoFormerClassificationHead(nn.Layer):
    """Hugging Face's sequence-classification head: first token -> dropout -> dense -> act -> dropout -> out_proj."""

    def __init__(self, config: RoFormerConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = _classifier_dropout(config)
        self.activation = get_activation(config.hidden_act)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, sequence_output: Tensor) -> Tensor:
        x = self.dropout(sequence_output[:, 0])
        x = self.dropout(self.activation(self.dense(x)))
        return self.out_proj(x)


class RoFormerForSequenceClassification(_HeadBase):
    """Pooled output -> dropout -> Linear(hidden, num_labels). Loss by ``problem_type``.

    With ``config.head_type == "huggingface"`` the classifier is ``RoFormerClassificationHead``
    (converted Hugging Face checkpoints give the same logits).
    """

    def __init__(self, config: RoFormerConfig, **overrides):
        super().__init__(config, **overrides)
        self.num_labels = self.config.num_labels
        self.dropout = _classifier_dropout(self.config)
        if self.config.head_type == "huggingface":
            self.classifier = RoFormerClassificationHead(self.config)
        else:
            self.classifier = nn.Linear(self.config.hidden_size, self.num_labels)
        self.init_weights(include_backbone=False)

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, inputs_embeds=None, labels=None,
                output_hidden_states=None, output_attentions=None, return_dict=None):
        out = self._backbone(input_ids, token_type_ids, attention_mask, inputs_embeds, output_hidden_states,
                             output_attentions)
        if self.config.head_type == "huggingface":
            logits = self.classifier(out.last_hidden_state)  # (B, num_labels)
        else:
            logits = self.classifier(self.dropout(out.pooler_output))  # (B, num_labels)
        loss = None if labels is None else sequence_classification_loss(
            logits, labels, self.num_labels, self.config.problem_type
        )
        return self._finish(SequenceClassifierOutput, loss, return_dict, out, logits=logits)


def sequence_classification_loss(logits: Tensor, labels: Tensor, num_labels: int, problem_type: Optional[str]):
    if problem_type is None:
        if num_labels == 1:
            problem_type = "regression"
        elif labels.dtype in (paddle.int64, paddle.int32):
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    if problem_type == "regression":
        if num_labels == 1:
            return F.mse_loss(logits.squeeze(-1), labels.reshape([-1]).astype(logits.dtype))
        return F.mse_loss(logits, labels.astype(logits.dtype))
    if problem_type == "single_label_classification":
        return mean_cross_entropy(logits, labels)
    if problem_type == "multi_label_classification":
        return F.binary_cross_entropy_with_logits(logits, labels.astype(logits.dtype))
    raise ValueError(
        "config.problem_type must be regression, single_label_classification or "
        f"multi_label_classification, got {problem_type!r}"
    )


class RoFormerForTokenClassification(_HeadBase):
    """Sequence output -> dropout -> Linear(hidden, num_labels) per token."""

    def __init__(self, config: RoFormerConfig, **overrides):
        super().__init__(config, **overrides)
        self.num_labels = self.config.num_labels
        self.dropout = _classifier_dropout(self.config)
        self.classifier = nn.Linear(self.config.hidden_size, self.num_labels)
        self.init_weights(include_backbone=False)

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, inputs_embeds=None, labels=None,
                output_hidden_states=None, output_attentions=None, return_dict=None):
        out = self._backbone(input_ids, token_type_ids, attention_mask, inputs_embeds, output_hidden_states,
                             output_attentions)
        logits = self.classifier(self.dropout(out.last_hidden_state))  # (B, T, num_labels)
        loss = None
        if labels is not None:  # label -100 is ignored (padding, sub-word continuations)
            loss = mean_cross_entropy(logits, labels)
        return self._finish(TokenClassifierOutput, loss, return_dict, out, logits=logits)


class RoFormerForQuestionAnswering(_HeadBase):
    """Extractive QA: Linear(hidden, 2) per token gives span start and end logits."""

    def __init__(self, config: RoFormerConfig, **overrides):
        super().__init__(config, **overrides)
        self.classifier = nn.Linear(self.config.hidden_size, 2)  # no dropout before it, as PaddleNLP
        self.init_weights(include_backbone=False)

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, inputs_embeds=None,
                start_positions=None, end_positions=None, output_hidden_states=None, output_attentions=None,
                return_dict=None):
        out = self._backbone(input_ids, token_type_ids, attention_mask, inputs_embeds, output_hidden_states,
                             output_attentions)
        logits = self.classifier(out.last_hidden_state)  # (B, T, 2)
        start_logits, end_logits = paddle.unstack(logits, axis=-1)
        loss = None
        if start_positions is not None and end_positions is not None:
            seq_len = start_logits.shape[1]
            # Positions outside the sequence (answer truncated away) are clipped to seq_len and ignored.
            start = start_positions.reshape([-1]).astype("int64").clip(0, seq_len)
            end = end_positions.reshape([-1]).astype("int64").clip(0, seq_len)
            loss = (
                mean_cross_entropy(start_logits, start, ignore_index=seq_len)
                + mean_cross_entropy(end_logits, end, ignore_index=seq_len)
            ) / 2
        return self._finish(QuestionAnsweringModelOutput, loss, return_dict, out,
                            start_logits=start_logits, end_logits=end_logits)


class RoFormerForMultipleChoice(_HeadBase):
    """Pooled output of each (context, choice) pair -> dropout -> Linear(hidden, 1) -> (B, num_choices).

    With ``config.head_type == "huggingface"`` the last token's hidden state replaces the pooled
    output, as in transformers' RoFormer.

    Inputs are [batch, num_choices, seq_len]; flattened [batch * num_choices, seq_len] inputs also
    work when ``config.num_choices`` is set.
    """

    def __init__(self, config: RoFormerConfig, **overrides):
        super().__init__(config, **overrides)
        self.dropout = _classifier_dropout(self.config)
        self.classifier = nn.Linear(self.config.hidden_size, 1)
        self.init_weights(include_backbone=False)

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, inputs_embeds=None, labels=None,
                output_hidden_states=None, output_attentions=None, return_dict=None):
        reference = input_ids if input_ids is not None else inputs_embeds
        if reference is None:
            raise ValueError("Pass either input_ids or inputs_embeds")
        token_rank = 3 if input_ids is not None else 4  # rank of un-flattened inputs
        if reference.ndim == token_rank:
            # paddle.shape: under to_static with a dynamic choice axis, .shape[1] is -1
            num_choices = reference.shape[1] if paddle.in_dynamic_mode() else paddle.shape(reference)[1]
        elif self.config.num_choices:
            num_choices = self.config.num_choices
        else:
            raise ValueError(
                "RoFormerForMultipleChoice needs inputs of shape [batch_size, num_choices, seq_len], "
                f"or config.num_choices set for flattened inputs; got input of shape {list(reference.shape)}"
            )

        def flatten(x, rank):
            # flatten, not reshape([-1] + shape[2:]): exported shapes hold -1 for dynamic axes
            return paddle.flatten(x, 0, 1) if x is not None and x.ndim == rank else x

        # Under to_static the dynamic sizes are tensors that cannot be compared in Python: there a
        # rank-3 mask is taken to be the [batch, choices, seq] one (the exported input spec).
        mask_per_choice = (attention_mask is not None and reference.ndim == token_rank and attention_mask.ndim == 3
                           and (not paddle.in_dynamic_mode()
                                or list(attention_mask.shape[:3]) == list(reference.shape[:3])))
        out = self._backbone(
            flatten(input_ids, 3), flatten(token_type_ids, 3),
            flatten(attention_mask, 3) if mask_per_choice else attention_mask,
            flatten(inputs_embeds, 4), output_hidden_states, output_attentions,
        )
        if self.config.head_type == "huggingface":  # transformers' sequence summary: the last token
            summary = out.last_hidden_state[:, -1]
        else:
            summary = self.dropout(out.pooler_output)
        logits = self.classifier(summary).reshape([-1, num_choices])  # (B, num_choices)
        loss = None if labels is None else mean_cross_entropy(logits, labels)
        return self._finish(MultipleChoiceModelOutput, loss, return_dict, out, logits=logits)


class RoFormerLMPredictionHead(nn.Layer):
    """transform (hidden -> embedding) -> act -> LayerNorm -> tied word embeddings^T + bias."""

    def __init__(self, config: RoFormerConfig, embedding_weights):
        super().__init__()
        self.transform = nn.Linear(config.hidden_size, config.embedding_size)
        self.activation = get_activation(config.hidden_act)
        self.layer_norm = nn.LayerNorm(config.embedding_size, epsilon=config.layer_norm_eps)
        self.decoder_weight = embedding_weights  # the same Parameter as the word embeddings
        self.decoder_bias = self.create_parameter(
            shape=[config.vocab_size], dtype=embedding_weights.dtype, is_bias=True
        )

    def forward(self, hidden_states: Tensor) -> Tensor:
        hidden_states = self.layer_norm(self.activation(self.transform(hidden_states)))  # (B, T, E)
        return paddle.matmul(hidden_states, self.decoder_weight, transpose_y=True) + self.decoder_bias  # (B, T, V)


class RoFormerOnlyMLMHead(nn.Layer):
    def __init__(self, config: RoFormerConfig, embedding_weights):
        super().__init__()
        self.predictions = RoFormerLMPredictionHead(config, embedding_weights)

    def forward(self, sequence_output: Tensor) -> Tensor:
        return self.predictions(sequence_output)


class _LMHeadBase(_HeadBase):
    def __init__(self, config: RoFormerConfig, **overrides):
        super().__init__(config, **overrides)
        self.cls = RoFormerOnlyMLMHead(self.config, self.roformer.embeddings.word_embeddings.weight)
        self.init_weights(include_backbone=False)


class RoFormerForMaskedLM(_LMHeadBase):
    """Masked-LM logits over the vocabulary; labels of -100 are ignored."""

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, inputs_embeds=None, labels=None,
                output_hidden_states=None, output_attentions=None, return_dict=None):
        out = self._backbone(input_ids, token_type_ids, attention_mask, inputs_embeds, output_hidden_states,
                             output_attentions)
        logits = self.cls(out.last_hidden_state)  # (B, T, V)
        loss = None
        if labels is not None:
            loss = mean_cross_entropy(logits, labels)
        return self._finish(MaskedLMOutput, loss, return_dict, out, logits=logits)


class RoFormerForCausalLM(GenerationMixin, _LMHeadBase):
    """Next-token logits with the MLM head; the loss predicts token t+1 from position t.

    Like PaddleNLP, no causal mask is added unless ``config.is_decoder`` is set (converted Hugging
    Face decoders set it): pass a causal or UniLM mask as ``attention_mask``."""

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, inputs_embeds=None, labels=None,
                past_key_values=None, use_cache=None, output_attentions=None, output_hidden_states=None,
                return_dict=None, position_ids=None):
        use_cache = _flag(use_cache, self.config.use_cache)
        out = self._backbone(input_ids, token_type_ids, attention_mask, inputs_embeds, output_hidden_states,
                             output_attentions, past_key_values=past_key_values, use_cache=use_cache,
                             position_ids=position_ids)
        logits = self.cls(out.last_hidden_state)  # (B, T, V)
        loss = None
        if labels is not None:
            shifted = logits[:, :-1, :]
            loss = mean_cross_entropy(shifted, labels[:, 1:])
        return self._finish(CausalLMOutput, loss, return_dict, out, logits=logits, past_key_values=out.past_key_values)


class RoFormerReplacedTokenHead(nn.Layer):
    """ELECTRA's replaced-token head: dense (hidden -> hidden) -> act -> dense_prediction (hidden -> 1)."""

    def __init__(self, config: RoFormerConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = get_activation(config.hidden_act)
        self.dense_prediction = nn.Linear(config.hidden_size, 1)

    def forward(self, sequence_output: Tensor) -> Tensor:
        hidden = self.activation(self.dense(sequence_output))  # (B, T, C)
        return self.dense_prediction(hidden).squeeze(-1)  # (B, T)


class RoFormerForReplacedTokenDetection(_HeadBase):
    """ELECTRA discriminator: one logit per token, > 0 meaning "replaced by the generator".

    ``labels`` (1 replaced, 0 original) give the binary cross-entropy over the non-padding tokens
    (``attention_mask``, else the tokens that are not ``pad_token_id``).
    """

    def __init__(self, config: RoFormerConfig, **overrides):
        super().__init__(config, **overrides)
        self.discriminator_predictions = RoFormerReplacedTokenHead(self.config)
        self.init_weights(include_backbone=False)

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, inputs_embeds=None, labels=None,
                output_hidden_states=None, output_attentions=None, return_dict=None):
        out = self._backbone(input_ids, token_type_ids, attention_mask, inputs_embeds, output_hidden_states,
                             output_attentions)
        logits = self.discriminator_predictions(out.last_hidden_state)  # (B, T)
        loss = None
        if labels is not None:
            loss = replaced_token_loss(logits, labels, token_mask(input_ids, attention_mask, self.config.pad_token_id,
                                                                  logits))
        return self._finish(TokenClassifierOutput, loss, return_dict, out, logits=logits)


def token_mask(input_ids, attention_mask, pad_token_id: int, like: Tensor) -> Tensor:
    """1.0 on the tokens a per-token loss counts (not padding), 0.0 elsewhere; shaped like ``like`` (B, T)."""
    if attention_mask is not None and attention_mask.ndim == 2:
        return (attention_mask != 0).astype(like.dtype)
    if input_ids is None:
        return paddle.ones_like(like)
    return (input_ids != pad_token_id).astype(like.dtype)


def replaced_token_loss(logits: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
    """Mean binary cross-entropy of the per-token logits against 0/1 ``labels`` where ``mask`` is 1."""
    per_token = F.binary_cross_entropy_with_logits(logits, labels.astype(logits.dtype), reduction="none")
    return (per_token * mask).sum() / mask.sum().clip(min=1.0)


# The one table of model classes (the backbone and every head), by class name. The converter, the
# CLI and the tests look classes up here.
MODEL_CLASSES = {
    cls.__name__: cls
    for cls in (
        RoFormerModel,
        RoFormerForSequenceClassification,
        RoFormerForTokenClassification,
        RoFormerForQuestionAnswering,
        RoFormerForMultipleChoice,
        RoFormerForMaskedLM,
        RoFormerForCausalLM,
        RoFormerForReplacedTokenDetection,
    )
}


def get_model_class(name: str):
    """The class called ``name`` in ``MODEL_CLASSES``; an unknown name is an error listing them."""
    if name in MODEL_CLASSES:
        return MODEL_CLASSES[name]
    from .utils import closest_match

    close = closest_match(str(name), MODEL_CLASSES)
    hint = f" Did you mean {close!r}?" if close else ""
    raise ValueError(f"Unknown model class {name!r}.{hint} Known classes: {', '.join(MODEL_CLASSES)}")
