//! THREAD (RFC 5256 §3): the ORDEREDSUBJECT and REFERENCES algorithms, rendered as the
//! imap-types [`Thread`] values of the `* THREAD` response (RFC 5256 §4).
//!
//! Both algorithms build a forest in an arena ([`Forest`]): node `i` is message `i`, dummy
//! containers (REFERENCES) follow. Walks over the forest use explicit stacks, because a hostile
//! mailbox can chain messages arbitrarily deep; only rendering recurses, once per level of
//! nesting, and stops nesting at [`MAX_THREAD_DEPTH`].

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;

use imap_types::core::{Vec1, Vec2};
use imap_types::extensions::thread::{Thread, ThreadingAlgorithm};

use super::Candidate;
use super::sort::sent_date;
use crate::message::ParsedMessage;

/// The threading algorithms Mailstead implements (`THREAD=ORDEREDSUBJECT`, `THREAD=REFERENCES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    /// RFC 5256 §3 ORDEREDSUBJECT: threads of equal base subject, flat below their first message.
    OrderedSubject,
    /// RFC 5256 §3 REFERENCES: threads from Message-ID, References and In-Reply-To, merged by
    /// base subject.
    References,
}

impl ThreadAlgorithm {
    /// The algorithm a THREAD command names, `None` for one not implemented here.
    pub fn from_imap(algorithm: &ThreadingAlgorithm<'_>) -> Option<ThreadAlgorithm> {
        match algorithm {
            ThreadingAlgorithm::OrderedSubject => Some(ThreadAlgorithm::OrderedSubject),
            ThreadingAlgorithm::References => Some(ThreadAlgorithm::References),
            ThreadingAlgorithm::Other(_) => None,
        }
    }
}

/// Threads are nested at most this deep in the response; what lies deeper is listed, depth
/// first, as one chain at that level. Real conversations never come close.
pub const MAX_THREAD_DEPTH: usize = 128;

/// REFERENCES uses at most the last this many ids of a message's References field (the last is
/// the parent, the others only add links among ancestors).
pub const MAX_REFERENCES: usize = 100;

/// Threads `items` (the messages that matched the THREAD command's search) by `algorithm`. The
/// ids in the result are UIDs when `by_uid` (UID THREAD), else sequence numbers. Messages with
/// id 0 are left out.
pub fn thread(
    algorithm: ThreadAlgorithm,
    items: &[(Candidate<'_>, &ParsedMessage)],
    by_uid: bool,
) -> Vec<Thread> {
    let mut messages: Vec<Message<'_>> = items
        .iter()
        .filter_map(|(candidate, parsed)| {
            Some(Message {
                id: NonZeroU32::new(if by_uid { candidate.uid } else { candidate.seq })?,
                key: (sent_date(candidate, Some(parsed)), candidate.seq),
                parsed,
            })
        })
        .collect();
    // Mailbox order: "the first (lowest sequence number)" owns a duplicate Message-ID.
    messages.sort_by_key(|m| m.key.1);
    let mut forest = Forest::new(messages);
    let roots = match algorithm {
        ThreadAlgorithm::OrderedSubject => forest.ordered_subject(),
        ThreadAlgorithm::References => forest.references(),
    };
    roots.into_iter().filter_map(|root| forest.render(root, 0)).collect()
}

/// One message to thread.
struct Message<'m> {
    /// Its id in the response (sequence number or UID).
    id: NonZeroU32,
    /// Sort key: the sent date (RFC 5256 §2.2), then the sequence number for ties.
    key: (i64, u32),
    parsed: &'m ParsedMessage,
}

/// A container: a message, or a dummy standing for a referenced message that is not here.
#[derive(Debug, Default)]
struct Node {
    message: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

/// Sort key of a container without messages below it.
const NO_KEY: (i64, u32) = (i64::MAX, u32::MAX);

struct Forest<'m> {
    messages: Vec<Message<'m>>,
    nodes: Vec<Node>,
}

impl<'m> Forest<'m> {
    fn new(messages: Vec<Message<'m>>) -> Forest<'m> {
        let nodes = (0..messages.len()).map(|i| Node { message: Some(i), ..Node::default() }).collect();
        Forest { messages, nodes }
    }

    /// RFC 5256 §3 ORDEREDSUBJECT: sort by base subject, then sent date; each run of one base
    /// subject is a thread whose first message is the parent of all the others; threads are
    /// ordered by the sent date of their first message.
    fn ordered_subject(&mut self) -> Vec<usize> {
        let subjects: Vec<String> =
            self.messages.iter().map(|m| m.parsed.subject_base().to_ascii_uppercase()).collect();
        let mut order: Vec<usize> = (0..self.messages.len()).collect();
        order.sort_by(|&a, &b| {
            subjects[a].cmp(&subjects[b]).then(self.messages[a].key.cmp(&self.messages[b].key))
        });
        let mut roots: Vec<usize> = Vec::new();
        for i in order {
            match roots.last() {
                Some(&head) if subjects[head] == subjects[i] => self.link(head, i),
                _ => roots.push(i),
            }
        }
        roots.sort_by_key(|&root| self.messages[root].key);
        roots
    }

    /// RFC 5256 §3 REFERENCES, steps 1 to 6.
    fn references(&mut self) -> Vec<usize> {
        // Step 1.A: the first message with a Message-ID owns it; later duplicates and messages
        // without one keep a unique id (no entry). Message ids compare case-sensitively.
        let mut ids: HashMap<&'m str, usize> = HashMap::new();
        for (i, message) in self.messages.iter().enumerate() {
            if let Some(id) = message.parsed.message_id().filter(|id| !id.is_empty()) {
                ids.entry(id).or_insert(i);
            }
        }
        for i in 0..self.messages.len() {
            let parsed = self.messages[i].parsed;
            // Step 1.A: References, or without them the first In-Reply-To id.
            let references = match parsed.references() {
                [] => parsed.in_reply_to().get(..1).unwrap_or_default(),
                references => references,
            };
            let references = &references[references.len().saturating_sub(MAX_REFERENCES)..];
            let mut previous = None;
            for reference in references.iter().filter(|id| !id.is_empty()) {
                // An id no message has becomes a dummy, reused by later references.
                let node = match ids.get(reference.as_str()) {
                    Some(&node) => node,
                    None => {
                        let node = self.add_dummy();
                        ids.insert(reference.as_str(), node);
                        node
                    }
                };
                // Each reference is the parent of the next, unless the next already has a
                // parent or the link would make a loop.
                if let Some(parent) = previous
                    && self.nodes[node].parent.is_none()
                    && !self.is_ancestor(node, parent)
                {
                    self.link(parent, node);
                }
                previous = Some(node);
            }
            // Step 1.B: the last reference is the parent, replacing an earlier (probably
            // truncated) link; no references means no parent.
            match previous {
                Some(parent) if self.nodes[i].parent == Some(parent) => {}
                Some(parent) if self.is_ancestor(i, parent) => {}
                Some(parent) => {
                    self.unlink(i);
                    self.link(parent, i);
                }
                None => self.unlink(i),
            }
        }
        // Step 2: the root set.
        let roots: Vec<usize> = (0..self.nodes.len()).filter(|&n| self.nodes[n].parent.is_none()).collect();
        let mut roots = self.prune(roots);
        // Step 4: sort the root set (a dummy by its first child, its children sorted first).
        self.sort_siblings(&mut roots);
        self.merge_subjects(&mut roots);
        // Step 6: sort every set of siblings, innermost first.
        self.sort_siblings(&mut roots);
        roots
    }

    /// Step 3: removes dummies without children and splices the children of the others into
    /// their place, except at the root where a dummy with several children stays.
    fn prune(&mut self, roots: Vec<usize>) -> Vec<usize> {
        // Reverse pre-order visits children before parents, so a child's own list is final.
        for node in self.preorder(&roots).into_iter().rev() {
            let children = std::mem::take(&mut self.nodes[node].children);
            let mut kept = Vec::with_capacity(children.len());
            for child in children {
                if self.nodes[child].message.is_some() {
                    kept.push(child);
                    continue;
                }
                for grandchild in std::mem::take(&mut self.nodes[child].children) {
                    self.nodes[grandchild].parent = Some(node);
                    kept.push(grandchild);
                }
            }
            self.nodes[node].children = kept;
        }
        let mut pruned = Vec::with_capacity(roots.len());
        for root in roots {
            if self.nodes[root].message.is_some() || self.nodes[root].children.len() > 1 {
                pruned.push(root);
            } else if let Some(child) = self.nodes[root].children.pop() {
                // A dummy root with one child: the child becomes the root.
                self.nodes[child].parent = None;
                pruned.push(child);
            }
        }
        pruned
    }

    /// Step 5: gathers root threads with the same base subject.
    fn merge_subjects(&mut self, roots: &mut Vec<usize>) {
        let subjects: Vec<Option<String>> = roots.iter().map(|&root| self.thread_subject(root)).collect();
        // Step 5.B: one container per subject, preferring a dummy, then a non-reply.
        let mut table: HashMap<String, usize> = HashMap::new();
        for (&root, subject) in roots.iter().zip(&subjects) {
            let Some(subject) = subject else { continue };
            let replace = match table.get(subject) {
                None => true,
                Some(&held) => {
                    !self.is_dummy(held)
                        && (self.is_dummy(root) || (self.is_reply(held) && !self.is_reply(root)))
                }
            };
            if replace {
                table.insert(subject.clone(), root);
            }
        }
        // Step 5.C: merge each root thread into the table's container for its subject.
        let mut deleted = HashSet::new();
        let mut new_roots = Vec::new();
        for (&root, subject) in roots.iter().zip(&subjects) {
            let Some(subject) = subject else { continue };
            if self.nodes[root].parent.is_some() || deleted.contains(&root) {
                continue;
            }
            let Some(&held) = table.get(subject) else { continue };
            if held == root {
                continue;
            }
            match (self.is_dummy(held), self.is_dummy(root)) {
                // Both dummies: the children of both become siblings.
                (true, true) => {
                    for child in std::mem::take(&mut self.nodes[root].children) {
                        self.nodes[child].parent = Some(held);
                        self.nodes[held].children.push(child);
                    }
                    deleted.insert(root);
                }
                // The table holds a dummy: this message joins its children.
                (true, false) => self.link(held, root),
                // Not reachable after step 5.B (a dummy always wins the table); mirrored.
                (false, true) => {
                    self.link(root, held);
                    table.insert(subject.clone(), root);
                }
                // A reply goes below the message it replies to.
                (false, false) if self.is_reply(root) && !self.is_reply(held) => self.link(held, root),
                // Otherwise both become children of a new dummy, which takes over the table.
                (false, false) => {
                    let dummy = self.add_dummy();
                    self.link(dummy, held);
                    self.link(dummy, root);
                    table.insert(subject.clone(), dummy);
                    new_roots.push(dummy);
                }
            }
        }
        roots.retain(|root| self.nodes[*root].parent.is_none() && !deleted.contains(root));
        roots.extend(new_roots);
    }

    /// Step 5.B.i: the base subject of a root's message, or of its first child for a dummy;
    /// `None` when empty. Compared with i;ascii-casemap (RFC 5256 §3).
    fn thread_subject(&self, node: usize) -> Option<String> {
        let message = self.message_or_first_child(node)?;
        let subject = self.messages[message].parsed.subject_base().to_ascii_uppercase();
        (!subject.is_empty()).then_some(subject)
    }

    fn message_or_first_child(&self, node: usize) -> Option<usize> {
        let node = &self.nodes[node];
        node.message.or_else(|| node.children.first().and_then(|&child| self.nodes[child].message))
    }

    fn is_dummy(&self, node: usize) -> bool {
        self.nodes[node].message.is_none()
    }

    fn is_reply(&self, node: usize) -> bool {
        self.message_or_first_child(node).is_some_and(|m| self.messages[m].parsed.subject_is_reply())
    }

    /// Sorts every set of siblings by sent date, innermost first, then the roots. A dummy sorts
    /// by its first child (RFC 5256 §3 REFERENCES steps 4 and 6).
    fn sort_siblings(&mut self, roots: &mut [usize]) {
        let mut keys = vec![NO_KEY; self.nodes.len()];
        for node in self.preorder(roots).into_iter().rev() {
            let mut children = std::mem::take(&mut self.nodes[node].children);
            children.sort_by_key(|&child| keys[child]);
            keys[node] = match self.nodes[node].message {
                Some(message) => self.messages[message].key,
                None => children.first().map_or(NO_KEY, |&child| keys[child]),
            };
            self.nodes[node].children = children;
        }
        roots.sort_by_key(|&root| keys[root]);
    }

    /// The nodes below and including `tops`, parents before children, without recursion.
    fn preorder(&self, tops: &[usize]) -> Vec<usize> {
        let mut order = Vec::new();
        let mut stack: Vec<usize> = tops.iter().rev().copied().collect();
        while let Some(node) = stack.pop() {
            order.push(node);
            stack.extend(self.nodes[node].children.iter().rev());
        }
        order
    }

    /// Whether `ancestor` is `node` or above it.
    fn is_ancestor(&self, ancestor: usize, node: usize) -> bool {
        let mut current = Some(node);
        while let Some(n) = current {
            if n == ancestor {
                return true;
            }
            current = self.nodes[n].parent;
        }
        false
    }

    fn add_dummy(&mut self) -> usize {
        self.nodes.push(Node::default());
        self.nodes.len() - 1
    }

    /// Makes `child` (which has no parent) the last child of `parent`.
    fn link(&mut self, parent: usize, child: usize) {
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].children.push(child);
    }

    fn unlink(&mut self, child: usize) {
        if let Some(parent) = self.nodes[child].parent.take() {
            self.nodes[parent].children.retain(|&c| c != child);
        }
    }

    /// The thread below `root` in RFC 5256 §4 form: a chain of single children is one prefix,
    /// several children are nested threads, a dummy contributes no number.
    fn render(&self, root: usize, depth: usize) -> Option<Thread> {
        let mut prefix = Vec::new();
        let mut node = root;
        let mut answers = loop {
            let current = &self.nodes[node];
            if let Some(message) = current.message {
                prefix.push(self.messages[message].id);
            }
            match current.children.as_slice() {
                [] => break Vec::new(),
                [only] => node = *only,
                children if depth >= MAX_THREAD_DEPTH => {
                    let rest = self.preorder(children).into_iter().filter_map(|n| self.nodes[n].message);
                    prefix.extend(rest.map(|message| self.messages[message].id));
                    break Vec::new();
                }
                children => {
                    break children.iter().filter_map(|&child| self.render(child, depth + 1)).collect();
                }
            }
        };
        // thread-members = nz-number *(SP nz-number) [SP thread-nested]; thread-nested needs two
        // threads, so a single answer continues the prefix.
        if answers.len() == 1 {
            return match answers.pop() {
                Some(Thread::Members { prefix: more, answers }) => {
                    prefix.extend(more.into_inner());
                    members(prefix, answers)
                }
                Some(Thread::Nested { answers }) => members(prefix, Some(answers)),
                None => members(prefix, None),
            };
        }
        members(prefix, Vec2::try_from(answers).ok())
    }
}

/// A thread from its prefix and answers; without a prefix (a dummy root) the answers alone.
fn members(prefix: Vec<NonZeroU32>, answers: Option<Vec2<Thread>>) -> Option<Thread> {
    match Vec1::try_from(prefix) {
        Ok(prefix) => Some(Thread::Members { prefix, answers }),
        Err(_) => answers.map(|answers| Thread::Nested { answers }),
    }
}
