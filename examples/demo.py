"""Build a RoFormer from its YAML architecture, run a padded batch, and save / reload it.

    python examples/demo.py [--config configs/roformer-chinese-char-small.yaml]

The weights are randomly initialised (pretrained weights are fetched by name with
``from_pretrained("roformer-chinese-char-small")`` where the network allows it).
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
import paddle

from paddle_roformer import RoFormerConfig, RoFormerForSequenceClassification, RoFormerModel

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "roformer-chinese-char-small.yaml"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    paddle.seed(args.seed)
    config = RoFormerConfig.from_yaml(args.config)
    print(f"config: {args.config}")
    print(f"  layers={config.num_hidden_layers} hidden={config.hidden_size} heads={config.num_attention_heads} "
          f"vocab={config.vocab_size} parameters={config.num_parameters() / 1e6:.1f}M")

    model = RoFormerModel(config)
    model.eval()

    # Two sequences of different lengths, padded with pad_token_id and masked.
    rng = np.random.RandomState(args.seed)
    lengths = [12, 7]
    ids = np.full((2, max(lengths)), config.pad_token_id, dtype="int64")
    mask = np.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.randint(1000, config.vocab_size, size=length)
        mask[row, :length] = 1
    with paddle.no_grad():
        sequence_output, pooled_output = model(paddle.to_tensor(ids), attention_mask=paddle.to_tensor(mask))
    print(f"sequence_output: {sequence_output.shape}  pooled_output: {pooled_output.shape}")
    print("pooled_output[:, :6]:")
    print(np.array2string(pooled_output.numpy()[:, :6], precision=4, suppress_small=True))

    # Rotary positions are computed, not looked up: twice the trained length runs.
    long_len = 2 * config.max_position_embeddings
    with paddle.no_grad():
        long_out, _ = model(paddle.randint(1000, config.vocab_size, [1, long_len]))
    print(f"a {long_len}-token input (2x max_position_embeddings) -> {long_out.shape}")

    # A classifier on top, saved and loaded back in PaddleNLP's checkpoint layout.
    classifier = RoFormerForSequenceClassification(config, num_classes=3)
    classifier.eval()
    with tempfile.TemporaryDirectory() as directory:
        classifier.save_pretrained(directory)
        reloaded = RoFormerForSequenceClassification.from_pretrained(directory)
        with paddle.no_grad():
            before = classifier(paddle.to_tensor(ids), attention_mask=paddle.to_tensor(mask)).numpy()
            after = reloaded(paddle.to_tensor(ids), attention_mask=paddle.to_tensor(mask)).numpy()
        files = sorted(p.name for p in Path(directory).iterdir())
    print(f"classifier logits {before.shape}, saved as {files}, reload max diff {np.abs(before - after).max():.1e}")


if __name__ == "__main__":
    main()
