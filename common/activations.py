"""The activations a policy network may use, by name, with their torch.nn class names. Training builds networks
from these names; every exported artifact (NumPy runtime, ONNX graph, generated C) implements exactly these."""

TORCH_CLASSES = {"tanh": "Tanh", "relu": "ReLU", "elu": "ELU", "leaky_relu": "LeakyReLU", "silu": "SiLU"}
