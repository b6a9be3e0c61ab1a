#!/usr/bin/env bash
# Build and time TensorRT engines of this bundle on the Jetson (JetPack 6.x: TensorRT 10.3; 7.x on Thor).
# Engines and timings are device-specific: build them on the robot's own computer, never copy them over.
set -euo pipefail
cd "$(dirname "$0")"
TRTEXEC=${TRTEXEC:-/usr/src/tensorrt/bin/trtexec}
SHAPES="--minShapes=obs:1x$(python3 -c 'import json;print(json.load(open("manifest.json"))["observation"]["size"])') "
SHAPES+="--optShapes=obs:1x$(python3 -c 'import json;print(json.load(open("manifest.json"))["observation"]["size"])') "
SHAPES+="--maxShapes=obs:16x$(python3 -c 'import json;print(json.load(open("manifest.json"))["observation"]["size"])')"

# fp16 engine from the fp32 graph (TensorRT chooses fp16 kernels)
"$TRTEXEC" --onnx=policy.onnx --fp16 $SHAPES --saveEngine=policy.fp16.engine \
  --useCudaGraph --noDataTransfers --percentile=50,99,99.9 --iterations=10000 --warmUp=1000 | tee trt_fp16.log

# int8 engine from the explicit Q/DQ graph (no calibration cache: the scales are in the graph)
"$TRTEXEC" --onnx=policy.int8.onnx --int8 --fp16 $SHAPES --saveEngine=policy.int8.engine \
  --useCudaGraph --noDataTransfers --percentile=50,99,99.9 --iterations=10000 --warmUp=1000 | tee trt_int8.log

grep -E "Latency: .*percentile" trt_fp16.log trt_int8.log || true
