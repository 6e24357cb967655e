#!/usr/bin/env python3
"""Exports the 21 torchvision classifiers of benchmarking-keras-pytorch to ONNX, as manifests/pytorch__*.json
expect them: models/pytorch/<name>.onnx, input "input" float32 [N,3,224,224] NCHW ([N,3,299,299] for
inception_v3) with a dynamic batch dimension, output "logits" [N,1000]. Each file gets a sidecar
models/pytorch/<name>.onnx.json (framework and exporter versions, weights and their sha256, opset, the file's
sha256) that `zoorepro verify` copies into its record.

Usage (packages: scripts/export/requirements-export.txt):
    scripts/export/export_torchvision.py                          # all 21, IMAGENET1K_V1 weights (downloaded by torchvision)
    scripts/export/export_torchvision.py --models resnet18,inception_v3 --weights none   # random weights, seeded

`--weights none` builds the same architecture with seeded random weights: the graph, names and shapes are the
real ones, the predictions mean nothing. It exists to test the export path where the weights cannot be fetched.
"""
import argparse
import datetime
import hashlib
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = ["alexnet", "densenet121", "densenet161", "densenet169", "densenet201", "inception_v3",
          "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "squeezenet1_0", "squeezenet1_1",
          "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]
WEIGHTS = "IMAGENET1K_V1"
INPUT_NAME, OUTPUT_NAME = "input", "logits"
# opset 18 is the lowest the dynamo exporter emits natively and is well inside ONNX Runtime 1.32's range.
OPSET = 18
SEED = 0


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_size(name):
    return 299 if name == "inception_v3" else 224


def build(name, weights):
    """The model in eval mode, and the sha256 of the weight file it loaded (None for random weights)."""
    import torch
    import torchvision

    builder = getattr(torchvision.models, name)
    if weights == "none":
        torch.manual_seed(SEED)
        # inception_v3's pretrained weights switch on transform_input (the graph re-normalises its input
        # from ImageNet mean/std to [-1, 1]); mirror it so that the random-weight graph is the real one.
        extra = {"transform_input": True, "init_weights": True} if name == "inception_v3" else {}
        model = builder(weights=None, **extra)
        if name == "inception_v3":
            rescale_inception(model)
        weights_sha256 = None
    else:
        enum = torchvision.models.get_model_weights(name)[weights]
        model = builder(weights=enum)
        # torchvision downloads into torch hub's cache under the URL's file name.
        cached = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(enum.url))
        weights_sha256 = sha256_file(cached) if os.path.isfile(cached) else None
    model.eval()
    return model, weights_sha256


def rescale_inception(model):
    """Seeded weights that keep inception_v3's activations in range, so that a --weights none check compares
    real numbers. Its own init (truncated normal, std 0.1, whatever the fan-in) grows activations by orders of
    magnitude per block: logits reach 1e11 and the softmax is one-hot, which any export would match. He-normal
    convolutions keep the scale, BatchNorm gets non-trivial statistics, and the classifier is scaled from the
    features it receives so that the logits spread over a few units. The other models' torchvision init already
    gives logits of a few units.
    """
    import torch

    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
        model.eval()
        seen = []
        hook = model.fc.register_forward_hook(lambda _module, inputs, _output: seen.append(inputs[0]))
        model(torch.randn(2, 3, 299, 299, generator=generator))
        hook.remove()
        rms = float(seen[0].pow(2).mean().sqrt())
        fan_in = model.fc.weight.shape[1]
        std = 3.0 / (fan_in ** 0.5 * max(rms, 1e-30))
        model.fc.weight.copy_(torch.randn(model.fc.weight.shape, generator=generator) * std)
        model.fc.bias.zero_()


def export(name, weights, out_dir):
    import onnx
    import torch
    import torchvision

    model, weights_sha256 = build(name, weights)
    size = input_size(name)
    # Batch 2, not 1: torch.export specialises a dimension whose example size is 0 or 1.
    example = torch.zeros(2, 3, size, size)
    path = os.path.join(out_dir, name + ".onnx")
    batch = torch.export.Dim("batch", min=1, max=4096)
    with torch.no_grad():
        torch.onnx.export(model, (example,), path, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_shapes={"x": {0: batch}}, opset_version=OPSET, dynamo=True,
                          external_data=False)
    graph = onnx.load(path)
    onnx.checker.check_model(graph)
    check_signature(graph, path, size)
    sidecar = {
        "model": name,
        "framework": "pytorch",
        "framework_versions": {"torch": torch.__version__, "torchvision": torchvision.__version__},
        "exporter": "torch.onnx.export (dynamo)",
        "exporter_version": torch.__version__,
        "onnx_version": onnx.__version__,
        "weights": weights if weights != "none" else "none",
        "weights_sha256": weights_sha256,
        "seed": SEED if weights == "none" else None,
        "opset": opset_of(graph),
        "input": {"name": INPUT_NAME, "shape": ["N", 3, size, size], "layout": "nchw"},
        "output": {"name": OUTPUT_NAME, "shape": ["N", 1000], "kind": "logits"},
        "sha256": sha256_file(path),
        "exported_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    with open(path + ".json", "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
    return path, sidecar


def opset_of(graph):
    return next(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx"))


def check_signature(graph, path, size):
    """The names and shapes the manifest declares, or the export is refused (not left half-right on disk)."""
    def dims(value):
        return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                for d in value.type.tensor_type.shape.dim]
    inputs = [i for i in graph.graph.input if i.name not in {t.name for t in graph.graph.initializer}]
    problems = []
    if [i.name for i in inputs] != [INPUT_NAME]:
        problems.append("inputs %s, expected [%r]" % ([i.name for i in inputs], INPUT_NAME))
    elif dims(inputs[0])[1:] != [3, size, size] or isinstance(dims(inputs[0])[0], int):
        problems.append("input shape %s, expected [N, 3, %d, %d]" % (dims(inputs[0]), size, size))
    if graph.graph.output[0].name != OUTPUT_NAME:
        problems.append("first output %r, expected %r" % (graph.graph.output[0].name, OUTPUT_NAME))
    if problems:
        os.remove(path)
        raise SystemExit("%s: %s" % (path, "; ".join(problems)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated names (default: all 21)")
    ap.add_argument("--weights", default=WEIGHTS, choices=[WEIGHTS, "none"],
                    help="IMAGENET1K_V1 (torchvision downloads them) or none (seeded random weights)")
    ap.add_argument("--out-dir", default=os.path.join(REPO, "models", "pytorch"))
    args = ap.parse_args()
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise SystemExit("unknown model(s) %s; choose from %s" % (", ".join(unknown), ", ".join(MODELS)))
    os.makedirs(args.out_dir, exist_ok=True)
    for name in names:
        path, sidecar = export(name, args.weights, args.out_dir)
        print("%s  opset %d  sha256 %s  weights %s" % (path, sidecar["opset"], sidecar["sha256"], sidecar["weights"]))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
