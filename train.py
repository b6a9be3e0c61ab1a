"""Training computer: `python train.py [overrides]` learns a locomotion policy (see configs/train.yaml)."""

from agents.cli import main

if __name__ == "__main__":
    main()
