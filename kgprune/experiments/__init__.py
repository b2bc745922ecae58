"""The paper's studies as runnable experiments and their reports."""
