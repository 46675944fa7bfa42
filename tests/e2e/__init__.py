"""Generated servers run under uvicorn and are driven over real HTTP against fake providers."""
