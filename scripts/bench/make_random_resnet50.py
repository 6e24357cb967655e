#!/usr/bin/env python3
"""Writes a ResNet-50 (torchvision v1.5 layout: stride on the 3x3 convolution) with random weights as ONNX, for
speed benchmarks on machines without the pretrained weights: it has the real model's graph, shapes and FLOPs
(BatchNormalization folded into the convolutions, as torch.onnx.export does in eval mode), so it runs at the real
one's speed; its predictions mean nothing. Input `input` [N,3,224,224] float32 NCHW, output `logits` [N,1000] — the
names of manifests/pytorch__resnet50.json.

Usage: make_random_resnet50.py OUT.onnx [--seed S]      (needs numpy and onnx: scripts/requirements.txt)
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    nodes, inits = [], []
    counter = [0]

    def name(prefix):
        counter[0] += 1
        return "%s_%d" % (prefix, counter[0])

    def conv(x, cin, cout, k, stride=1, relu=True, gain=1.0):
        w, b, y = name("w"), name("b"), name("conv")
        # He initialisation keeps activations in range through 50 layers.
        std = gain * np.sqrt(2.0 / (cin * k * k))
        inits.append(numpy_helper.from_array((rng.standard_normal((cout, cin, k, k)) * std).astype(np.float32), w))
        inits.append(numpy_helper.from_array(np.zeros(cout, np.float32), b))
        nodes.append(helper.make_node("Conv", [x, w, b], [y], kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[k // 2] * 4))
        if not relu:
            return y
        r = name("relu")
        nodes.append(helper.make_node("Relu", [y], [r]))
        return r

    x = conv("input", 3, 64, 7, stride=2)
    pooled = name("maxpool")
    nodes.append(helper.make_node("MaxPool", [x], [pooled], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    x, cin = pooled, 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for block in range(blocks):
            s = stride if block == 0 else 1
            out = width * 4
            y = conv(x, cin, width, 1)
            y = conv(y, width, width, 3, stride=s)
            y = conv(y, width, out, 1, relu=False, gain=0.2)
            shortcut = conv(x, cin, out, 1, stride=s, relu=False) if (s != 1 or cin != out) else x
            added, r = name("add"), name("relu")
            nodes.append(helper.make_node("Add", [y, shortcut], [added]))
            nodes.append(helper.make_node("Relu", [added], [r]))
            x, cin = r, out
    gap, flat, fc_w, fc_b = name("gap"), name("flat"), name("fc_w"), name("fc_b")
    nodes.append(helper.make_node("GlobalAveragePool", [x], [gap]))
    nodes.append(helper.make_node("Flatten", [gap], [flat], axis=1))
    inits.append(numpy_helper.from_array((rng.standard_normal((1000, 2048)) * 0.01).astype(np.float32), fc_w))
    inits.append(numpy_helper.from_array(np.zeros(1000, np.float32), fc_b))
    nodes.append(helper.make_node("Gemm", [flat, fc_w, fc_b], ["logits"], transB=1))
    graph = helper.make_graph(
        nodes, "resnet50_random",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])], inits)
    model = helper.make_model(graph, producer_name="zoorepro scripts/bench/make_random_resnet50.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, args.out)
    params = sum(int(np.prod(t.dims)) for t in inits)
    print("wrote %s: %d parameters, %d nodes" % (args.out, params, len(nodes)))


if __name__ == "__main__":
    main()
