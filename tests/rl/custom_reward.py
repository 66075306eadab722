"""A user-defined reward component, referenced from config as `tests.rl.custom_reward:length_penalty`."""


def length_penalty(responses, samples, per_char: float = 0.01):
    return [-per_char * len(r) for r in responses]
