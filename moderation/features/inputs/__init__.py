"""Written inputs: submitting, moderating (approve, publish, pin, merge), themes, and listing them."""
