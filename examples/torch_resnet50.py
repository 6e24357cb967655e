"""Verify torchvision's ResNet-50 natively (no ONNX export) with zoorepro.evaluate.

    pip install zoorepro torch torchvision
    python examples/torch_resnet50.py --val ILSVRC2012_img_val/ [--weights resnet50-0676ba61.pth]

--weights: torchvision's IMAGENET1K_V1 file (`resnet50-0676ba61.pth`, what the manifest
pytorch/resnet50 and its published 76.13% describe); its sha256 keys the stored run, so running
again resumes it. Without it the model has random weights: the run then shows the plumbing (and
a drift verdict, as it should), not ResNet-50's accuracy.

zoorepro decodes and preprocesses the images bit-exactly as torchvision's transforms do
(the manifest's recipe, `torchvision`), torch runs the model, and zoorepro writes the same store
rows, record, reports and verdict as `zoorepro verify`.
"""
import argparse
import hashlib

import torch
import torchvision

import zoorepro


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", required=True, help="a folder or tar verify --val accepts")
    parser.add_argument("--weights", help="torchvision's resnet50-0676ba61.pth (default: random weights)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, help="decoding threads (default: every core)")
    parser.add_argument("--cache-dir", help="zoorepro's store (default: the user's cache)")
    args = parser.parse_args()

    model = torchvision.models.resnet50(weights=None)
    digest = None
    if args.weights:
        with open(args.weights, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        model.load_state_dict(torch.load(args.weights, map_location="cpu", weights_only=True))
    model.eval()

    @torch.no_grad()
    def model_fn(batch):
        # batch: float32 (N, 3, 224, 224), the manifest recipe's tensor; logits back as numpy.
        return model(torch.from_numpy(batch)).numpy()

    result = zoorepro.evaluate(
        model_fn,
        args.val,
        model="pytorch/resnet50",
        name="resnet50 (torch, " + ("random weights" if digest is None else args.weights) + ")",
        framework=f"torch {torch.__version__}",
        checkpoint_sha256=digest,
        batch_size=args.batch,
        threads=args.threads,
        cache_dir=args.cache_dir,
    )
    print(f"{result['model_id']}: top-1 {result['top1_correct']}/{result['images']} ({result['top1']}%), "
          f"top-5 {result['top5_correct']}, verdict {result['verdict']} {result['marks']}")
    for path in result["reports"]:
        print("  report:", path)


if __name__ == "__main__":
    main()
