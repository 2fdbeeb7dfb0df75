"""What runs inside a step: the step runner and the marshal of values between steps.

Imports from kalec: nothing. Backends ship it into each step (or install it), so a step's
image needs no copy of kalec itself.
"""
