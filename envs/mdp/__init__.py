"""MDP terms of the locomotion task: observations, rewards, terminations, commands and events."""
