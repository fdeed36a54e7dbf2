#!/usr/bin/env python3
"""Entry point of the kit: every command lives in llmops_kit.cli."""

from llmops_kit.cli import main

if __name__ == "__main__":
    main()
