"""Pure numerics shared by the instrumentation and the processor: sketches, baselines, drift."""
