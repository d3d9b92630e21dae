#!/usr/bin/env bash
# The GPU recipe as shipped, for a few minutes on one lent GPU: `assistant/train/configs/qwen7b_sft_lora.yaml`
# and `qwen7b_sft_ptuning.yaml` on the shipped question-set SFT file (assistant/train/data/legal_sft.jsonl),
# bf16, gradient checkpointing, checkpoints, eval loss before/after, loss.png - then a resume from the last
# checkpoint. Self-contained: needs only torch, transformers, peft, tokenizers, PyYAML, matplotlib (no store,
# no index, no network).
#
# No real 7B model can travel to a lent machine (64 MiB), so unless MODEL names a local model folder the script
# builds a random-weight Qwen2 of Qwen2.5-1.5B's shape (SHAPE=0.5b|1.5b|7b; a tokenizer trained on the SFT file,
# a ChatML chat template): the run then measures the pipeline and the GPU's throughput and memory on this data,
# not answer quality.
#
#   bash scripts/gpu_sft_check.sh OUT_DIR                 # on the GPU machine, from the repository root
#   MODEL=models/qwen2.5-7b-instruct bash scripts/gpu_sft_check.sh runs/gpu_check
#   SHAPE=tiny STEPS=2 DEVICE=cpu bash scripts/gpu_sft_check.sh /tmp/gpu_check_dry   # a dry run on a CPU
#
# Works in WORK (default /tmp/gpu_sft_check: the model, checkpoints) and copies to OUT_DIR only what is read
# back: summary.json (one line per run: steps, seconds, tokens/s, loss, eval loss, GPU memory) and each run's
# <config>.metrics.json and <config>.loss.png (7 files).
set -euo pipefail
OUT_DIR=${1:-${OUT:-runs/gpu_check}}
WORK=${WORK:-/tmp/gpu_sft_check}
SHAPE=${SHAPE:-1.5b}
STEPS=${STEPS:-60}
DEVICE=${DEVICE:-cuda}
PER_RUN=${PER_RUN:-240}
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PY=${PYTHON:-python3}
mkdir -p "$OUT_DIR" "$WORK"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
: > "$WORK/summary.json"
[ "$DEVICE" = cuda ] && (nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true)
$PY -c "import torch, transformers, peft; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
'transformers', transformers.__version__, 'peft', peft.__version__)"

MODEL=${MODEL:-}
if [ -z "$MODEL" ]; then
  MODEL="$WORK/model-$SHAPE"
  $PY - "$MODEL" "$SHAPE" "$DEVICE" <<'EOF'
import json, sys, time
from pathlib import Path
import torch
from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM
from assistant.train.tiny import train_tokenizer
from assistant.train.data.question_sft import SHIPPED_SFT

out, shape, device = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
start = time.time()
texts = []
for line in SHIPPED_SFT.read_text(encoding="utf-8").splitlines()[:1500]:
    row = json.loads(line)
    texts += [row["instruction"], row["output"]]
tok = train_tokenizer(texts, vocab_size=16000)
tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                     "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
shapes = {  # hidden, intermediate, layers, heads, kv heads (Qwen2.5 family)
    "tiny": (64, 128, 2, 4, 2), "0.5b": (896, 4864, 24, 14, 2), "1.5b": (1536, 8960, 28, 12, 2),
    "7b": (3584, 18944, 28, 28, 4)}
h, i, n, a, kv = shapes[shape]
config = Qwen2Config(vocab_size=len(tok), hidden_size=h, intermediate_size=i, num_hidden_layers=n,
                     num_attention_heads=a, num_key_value_heads=kv, max_position_embeddings=4096,
                     tie_word_embeddings=shape != "7b", bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                     pad_token_id=tok.pad_token_id)
torch.manual_seed(0)
dtype = torch.bfloat16 if device == "cuda" else torch.float32
with torch.device(device if device == "cuda" else "cpu"):
    model = Qwen2ForCausalLM(config).to(dtype)
model.generation_config = GenerationConfig(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
model.save_pretrained(out)
tok.save_pretrained(out)
print(f"random Qwen2 ({shape}): {sum(p.numel() for p in model.parameters()):,} parameters, vocab {len(tok)} "
      f"-> {out} ({time.time() - start:.0f} s)")
EOF
fi

run() {  # config name, extra overrides...
  local name=$1; shift
  timeout "$PER_RUN" $PY - "$name" "$MODEL" "$WORK" "$STEPS" "$DEVICE" "$@" <<'EOF' || echo "{\"config\": \"$name\", \"failed\": true}" >> "$WORK/summary.json"
import json, sys, time
import torch
from assistant.train.trainer import train

name, model, out_dir, steps, device, *extra = sys.argv[1:]
args = ["--model_name_or_path", model, "--max_steps", steps, "--output_dir", f"{out_dir}/{name}",
        "--save_steps", str(max(1, int(steps) // 2)), "--logging_steps", "5", "--val_size", "16",
        "--num_train_epochs", "1"] + extra
if device != "cuda":
    args += ["--use_cpu", "true", "--per_device_train_batch_size", "1", "--gradient_accumulation_steps", "1",
             "--max_source_length", "256", "--max_target_length", "64", "--val_size", "2"]
start = time.time()
m = train("sft", f"assistant/train/configs/{name}.yaml", args, progress=False)
row = {"config": name, "extra": extra, "model": model, "method": m["method"], "precision": m["precision"],
       "steps": m["global_step"], "train_seconds": m["train_seconds"], "tokens_per_second": m["tokens_per_second"],
       "first_loss": m["first_logged_loss"], "last_loss": m["last_logged_loss"],
       "eval_loss_before": m.get("eval_loss_before"), "eval_loss": m.get("eval_loss"),
       "trainable": m["parameters"]["trainable"], "total": m["parameters"]["total"], "train_rows": m["train_rows"],
       "gpu_peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None,
       "wall_seconds": round(time.time() - start, 1)}
print(json.dumps(row))
with open(f"{out_dir}/summary.json", "a") as f:
    f.write(json.dumps(row) + "\n")
EOF
}

run qwen7b_sft_lora
# resume the LoRA run from its middle checkpoint to the same step count (what a preempted GPU job does)
LAST=$(ls -d "$WORK"/qwen7b_sft_lora/checkpoint-* 2>/dev/null | sort -V | head -1 || true)
if [ -n "$LAST" ]; then
  cp "$WORK/qwen7b_sft_lora/metrics.json" "$OUT_DIR/qwen7b_sft_lora.metrics.json"
  cp "$WORK/qwen7b_sft_lora/loss.png" "$OUT_DIR/qwen7b_sft_lora.loss.png" 2>/dev/null || true
  run qwen7b_sft_lora --resume_from_checkpoint "$LAST"
  cp "$WORK/qwen7b_sft_lora/metrics.json" "$OUT_DIR/qwen7b_sft_lora.resumed.metrics.json" 2>/dev/null || true
fi
run qwen7b_sft_ptuning
cp "$WORK/qwen7b_sft_ptuning/metrics.json" "$OUT_DIR/qwen7b_sft_ptuning.metrics.json" 2>/dev/null || true
cp "$WORK/qwen7b_sft_ptuning/loss.png" "$OUT_DIR/qwen7b_sft_ptuning.loss.png" 2>/dev/null || true
cp "$WORK/summary.json" "$OUT_DIR/summary.json"
echo "== summary ($OUT_DIR/summary.json)"
cat "$OUT_DIR/summary.json"
