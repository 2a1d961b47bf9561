//! One request's arguments, owned, in two allocations.
//!
//! Invariants: `ends` is non-decreasing and every end is `<= data.len()`;
//! argument `i` is `data[ends[i-1]..ends[i]]` (`0..ends[0]` for the first).
//! Bytes past the last end belong to an argument still being received (only
//! the parser creates that state, and it never hands such an `Argv` out).
//! Every accessor is checked: nothing here can panic on any index.

/// The arguments of one request: the command name is argument 0.
///
/// `Send` and cheap to move, so it can travel to the core owning a key.
///
/// # Examples
///
/// ```
/// use frys_shards::protocol::Argv;
///
/// let argv = Argv::from_args(&[b"SET", b"k", b"v"]);
/// assert_eq!(argv.len(), 3);
/// assert_eq!(argv.get(1), Some(&b"k"[..]));
/// assert_eq!(argv.get(3), None);
/// assert_eq!(argv.total_bytes(), 5);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Argv {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl Argv {
    /// An empty argument list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds an `Argv` from slices (tests, internal commands, rewrites).
    pub fn from_args(args: &[&[u8]]) -> Self {
        let mut argv = Self::new();
        for arg in args {
            argv.push(arg);
        }
        argv
    }

    /// Appends one whole argument.
    pub fn push(&mut self, arg: &[u8]) {
        self.data.extend_from_slice(arg);
        self.ends.push(self.data.len());
    }

    /// Number of arguments.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there is no argument at all.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Argument `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = match i.checked_sub(1) {
            Some(prev) => *self.ends.get(prev)?,
            None => 0,
        };
        self.data.get(start..end)
    }

    /// The command name (argument 0), if any.
    pub fn command(&self) -> Option<&[u8]> {
        self.get(0)
    }

    /// Iterates over the arguments in order.
    pub fn iter(&self) -> ArgvIter<'_> {
        ArgvIter {
            argv: self,
            front: 0,
            back: self.len(),
        }
    }

    /// Sum of the argument lengths (Redis' `argv_len_sum`).
    pub fn total_bytes(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Bytes of memory the argument table accounts for: the argument
    /// bytes, any partial argument, and one offset per argument.
    pub(crate) fn held_bytes(&self) -> usize {
        self.data
            .len()
            .saturating_add(self.ends.len().saturating_mul(std::mem::size_of::<usize>()))
    }

    /// Appends bytes of an argument still being received.
    ///
    /// `left` is how many bytes of that argument remain including `bytes`;
    /// growth is geometric but never past the argument's end, so a large
    /// bulk does not over-allocate and small ones do not reallocate often.
    pub(crate) fn extend_partial(&mut self, bytes: &[u8], left: usize) {
        if self.data.capacity() - self.data.len() < bytes.len() {
            let grow = left.min(bytes.len().max(self.data.len()));
            self.data.reserve_exact(grow.max(bytes.len()));
        }
        self.data.extend_from_slice(bytes);
    }

    /// Closes the argument being received at the current end of the data.
    pub(crate) fn end_partial(&mut self) {
        self.ends.push(self.data.len());
    }

    /// Reserves room in the offset table (capped: the count is client input).
    pub(crate) fn reserve_args(&mut self, args: usize) {
        self.ends.reserve(args.min(1024));
    }
}

impl std::fmt::Debug for Argv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

impl<'a> IntoIterator for &'a Argv {
    type Item = &'a [u8];
    type IntoIter = ArgvIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over the arguments of an [`Argv`].
#[derive(Clone, Debug)]
pub struct ArgvIter<'a> {
    argv: &'a Argv,
    front: usize,
    back: usize,
}

impl<'a> Iterator for ArgvIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let arg = self.argv.get(self.front);
        self.front += 1;
        arg
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back.saturating_sub(self.front);
        (n, Some(n))
    }
}

impl DoubleEndedIterator for ArgvIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        self.back -= 1;
        self.argv.get(self.back)
    }
}

impl ExactSizeIterator for ArgvIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_arguments_are_kept_apart() {
        let argv = Argv::from_args(&[&b""[..], b"a", b""]);
        assert_eq!(argv.len(), 3);
        let all: Vec<&[u8]> = argv.iter().collect();
        assert_eq!(all, vec![&b""[..], b"a", b""]);
        assert_eq!(argv.iter().next_back(), Some(&b""[..]));
        assert_eq!(argv.total_bytes(), 1);
    }

    #[test]
    fn out_of_range_index_is_none() {
        let argv = Argv::new();
        assert!(argv.is_empty());
        assert_eq!(argv.get(0), None);
        assert_eq!(argv.get(usize::MAX), None);
        assert_eq!(argv.command(), None);
    }

    #[test]
    fn partial_argument_is_not_visible_until_closed() {
        let mut argv = Argv::from_args(&[b"SET"]);
        argv.extend_partial(b"ke", 3);
        assert_eq!(argv.len(), 1);
        assert_eq!(argv.total_bytes(), 3);
        argv.extend_partial(b"y", 1);
        argv.end_partial();
        assert_eq!(argv.get(1), Some(&b"key"[..]));
    }

    #[test]
    fn argv_is_send() {
        fn assert_send<T: Send + 'static>() {}
        assert_send::<Argv>();
    }
}
