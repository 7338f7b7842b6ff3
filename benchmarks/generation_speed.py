"""Generation speed: the KV cache against recomputing the whole sequence, and Hugging Face's decoder.

For each shape (a RoFormer-Sim architecture with random weights, a prompt of PROMPT tokens, a
batch) it times generating NEW tokens with no early stop:

- ours-cache:      ``generate`` with the KV cache (UniLM seq2seq mask, as RoFormer-Sim decodes);
- ours-recompute:  ``generate(use_cache=False)``, the whole sequence again at every step;
- torch-cache:     Hugging Face ``RoFormerForCausalLM.generate`` (causal decoder, its KV cache), the
                   same weights, for scale (it has no UniLM mask).

Both of ours must return the same ids (checked). Run with OMP_NUM_THREADS set to the thread count:

    OMP_NUM_THREADS=2 python benchmarks/generation_speed.py --threads 2
    python benchmarks/generation_speed.py --quick      # a few seconds, tiny model (the tests run this)
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from paddle_roformer.runtime import cpu_name  # noqa: E402  (after the path insert)




def make_models(name: str, quick: bool):
    """Ours (random weights) and, when torch is installed, HF's decoder holding the same weights."""
    import paddle

    from paddle_roformer import RoFormerConfig, RoFormerForCausalLM, get_pretrained

    if quick:
        values = dict(vocab_size=200, hidden_size=32, embedding_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=64, pool_act="linear")
    else:
        values = get_pretrained(name).model_values()
    paddle.seed(0)
    ours = RoFormerForCausalLM(RoFormerConfig(**dict(values, eos_token_id=None)))
    ours.eval()
    return ours, values, torch_model(ours, values)


def torch_model(ours, values):
    try:
        import torch
        import transformers
    except ImportError:
        return None
    from paddle_roformer.convert import hf_to_paddle_state_dict

    hf_config = transformers.RoFormerConfig(
        vocab_size=values["vocab_size"], embedding_size=values.get("embedding_size") or values["hidden_size"],
        hidden_size=values["hidden_size"], num_hidden_layers=values["num_hidden_layers"],
        num_attention_heads=values["num_attention_heads"], intermediate_size=values["intermediate_size"],
        max_position_embeddings=values.get("max_position_embeddings", 512),
        rotary_value=values.get("rotary_value", False), is_decoder=True,
    )
    torch.manual_seed(0)
    model = transformers.RoFormerForCausalLM(hf_config).eval()
    hf_state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    state = {k: v.numpy() for k, v in ours.state_dict().items()}
    state.update(hf_to_paddle_state_dict(hf_state, ours, "RoFormerForCausalLM"))
    ours.load_pretrained_state_dict(state)
    ours.eval()
    return model


def time_call(call, repeat: int):
    call()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="roformer-chinese-sim-char-small,roformer-chinese-sim-char-base")
    parser.add_argument("--batches", default="1,4")
    parser.add_argument("--prompt", type=int, default=32)
    parser.add_argument("--new", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="write the results here as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.batches, args.prompt, args.new, args.repeat = "tiny", "2", 8, 8, 1

    import paddle

    from paddle_roformer import set_num_threads

    threads = set_num_threads(args.threads)
    torch_threads = None
    try:
        import torch

        torch.set_num_threads(threads)
        torch_threads = threads
    except ImportError:
        pass
    rows = []
    for name in args.models.split(","):
        ours, values, hf = make_models(name, args.quick)
        for batch in (int(b) for b in args.batches.split(",")):
            rng = np.random.RandomState(0)
            prompt = rng.randint(5, values["vocab_size"], size=(batch, args.prompt)).astype("int64")
            ids = paddle.to_tensor(prompt)
            options = dict(max_new_tokens=args.new, eos_token_id=None)
            cached_s, cached = time_call(lambda: ours.generate(ids, **options), args.repeat)
            recompute_s, recomputed = time_call(lambda: ours.generate(ids, use_cache=False, **options), args.repeat)
            same = bool(np.array_equal(cached[0].numpy(), recomputed[0].numpy()))
            row = dict(model=name, batch=batch, prompt=args.prompt, new=args.new, cache_ms=cached_s * 1000,
                       recompute_ms=recompute_s * 1000, cache_speedup=recompute_s / cached_s, same_ids=same)
            if hf is not None:
                with torch.no_grad():
                    tensor = torch.tensor(prompt)
                    hf_s, _ = time_call(lambda: hf.generate(tensor, attention_mask=torch.ones_like(tensor),
                                                            max_new_tokens=args.new, min_new_tokens=args.new,
                                                            do_sample=False, pad_token_id=0), args.repeat)
                row.update(torch_ms=hf_s * 1000, vs_torch=hf_s / cached_s)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    header = dict(cpu=cpu_name(), threads=threads, torch_threads=torch_threads, paddle=paddle.__version__)
    print(f"CPU: {header['cpu']}, {threads} threads, greedy, no early stop\n")
    print("| model | batch | prompt + new | cache ms | recompute ms | cache speed-up | torch cache ms | ours vs torch | same ids |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        torch_ms = f"{r['torch_ms']:.0f}" if "torch_ms" in r else "n/a"
        vs = f"{r['vs_torch']:.2f}x" if "vs_torch" in r else "n/a"
        print(f"| {r['model']} | {r['batch']} | {r['prompt']} + {r['new']} | {r['cache_ms']:.0f} | "
              f"{r['recompute_ms']:.0f} | {r['cache_speedup']:.2f}x | {torch_ms} | {vs} | {r['same_ids']} |")
    if args.json:
        from paddle_roformer.utils import atomic_write_text

        atomic_write_text(args.json, json.dumps(dict(header=header, results=rows), indent=1))
    return 0 if all(r["same_ids"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
