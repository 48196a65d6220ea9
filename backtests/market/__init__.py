"""Market data: price files (parsing, validation, total return), the bundled-or-cache rule, and yfinance refresh."""
