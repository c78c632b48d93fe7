//! Bodies of `saring policy check` and `saring policy test`.
