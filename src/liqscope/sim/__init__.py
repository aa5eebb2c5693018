"""Market simulator with ground truth, and simulated exchange servers."""
