"""Onboard computer: policy bundles (ONNX fp32/fp16/int8, C, NumPy) and the NumPy-only runtime.

`onboard.runtime` imports NumPy alone; everything that needs torch, onnx or onnxruntime lives in the
export modules and is never imported on the robot.
"""
