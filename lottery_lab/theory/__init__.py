"""Theory demos: random subset sums (strong tickets) and the no-overlap CNN teacher-student model."""
