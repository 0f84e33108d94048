"""One module per page. Each has `build()`, which lays out its components inside
the current gr.Blocks (or route), and `demo()`, which runs it alone."""
