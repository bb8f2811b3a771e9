#!/usr/bin/python3
"""One-line export of a PyTorch LCOV-Net checkpoint (.pt/.pth) to safetensors for `lcovnet model import`.

Usage: /usr/bin/python3 tools/export_checkpoint.py checkpoint.pt -o weights.safetensors
"""
import sys, os; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lcovnet_reference import main; main(["export"] + sys.argv[1:])
