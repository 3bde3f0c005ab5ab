"""What measures the product: speed, memory, parity, roofline, the GPU check (benchmarks/product/README.md)."""
