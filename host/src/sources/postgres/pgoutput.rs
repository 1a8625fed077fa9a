//! Decoding of `pgoutput` logical replication messages (protocol version 1), as they arrive
//! in the payload of XLogData. Begin and Commit are decoded by the replication client.

use std::fmt;

use bytes::Bytes;

/// A decoding failure: the message and what was wrong with it.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("malformed pgoutput {message} message: {problem}")]
pub struct DecodeError {
    pub message: &'static str,
    pub problem: String,
}

/// A table's description, sent before its first change and after each change of its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    pub id: u32,
    pub schema: String,
    pub name: String,
    pub replica_identity: ReplicaIdentity,
    pub columns: Vec<Column>,
}

/// REPLICA IDENTITY of a table: what the old tuple of an update or delete carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// The primary key (`d`).
    Default,
    /// Nothing (`n`).
    Nothing,
    /// All columns (`f`).
    Full,
    /// The columns of an index (`i`).
    Index,
}

/// A column of a relation.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// True when the column is part of the replica identity (the key).
    pub key: bool,
    pub name: String,
    pub type_oid: u32,
    pub type_modifier: i32,
}

/// One column value of a tuple.
#[derive(Clone, PartialEq)]
pub enum Cell {
    Null,
    /// An unchanged TOASTed value, not sent.
    Unchanged,
    /// The value in the type's text output format.
    Text(Bytes),
    /// The value in the type's binary send format.
    Binary(Bytes),
}

impl fmt::Debug for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => write!(f, "Null"),
            Cell::Unchanged => write!(f, "Unchanged"),
            Cell::Text(t) => write!(f, "Text({:?})", String::from_utf8_lossy(t)),
            Cell::Binary(b) => write!(f, "Binary({b:?})"),
        }
    }
}

/// The old row of an update or delete.
#[derive(Debug, Clone, PartialEq)]
pub enum OldRow {
    /// Only the replica identity (key) columns; others are null.
    Key(Vec<Cell>),
    /// All columns (REPLICA IDENTITY FULL).
    Full(Vec<Cell>),
}

/// A decoded pgoutput message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Relation(Relation),
    /// A user-defined type's name, sent before a relation that uses it.
    Type {
        oid: u32,
        schema: String,
        name: String,
    },
    Origin {
        name: String,
    },
    Insert {
        relation: u32,
        new: Vec<Cell>,
    },
    Update {
        relation: u32,
        old: Option<OldRow>,
        new: Vec<Cell>,
    },
    Delete {
        relation: u32,
        old: OldRow,
    },
    Truncate {
        relations: Vec<u32>,
        cascade: bool,
        restart_identity: bool,
    },
    /// Begin, Commit and Message are decoded by the replication client; anything else this
    /// decoder does not know is passed over by tag.
    Other(u8),
}

struct Reader<'a> {
    /// The whole message, which cell values share without copying.
    whole: &'a Bytes,
    bytes: &'a [u8],
    message: &'static str,
}

impl<'a> Reader<'a> {
    fn fail(&self, problem: impl Into<String>) -> DecodeError {
        DecodeError {
            message: self.message,
            problem: problem.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(self.fail(format!("needs {n} more bytes, has {}", self.bytes.len())));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().unwrap_or_default(),
        ))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(self.u32()? as i32)
    }

    fn cstring(&mut self) -> Result<String, DecodeError> {
        let end = self
            .bytes
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| self.fail("unterminated string"))?;
        let text = String::from_utf8(self.bytes[..end].to_vec())
            .map_err(|_| self.fail("a name is not UTF-8"))?;
        self.bytes = &self.bytes[end + 1..];
        Ok(text)
    }

    fn tuple(&mut self) -> Result<Vec<Cell>, DecodeError> {
        let n = self.u16()? as usize;
        let mut cells = Vec::with_capacity(n);
        for _ in 0..n {
            cells.push(match self.u8()? {
                b'n' => Cell::Null,
                b'u' => Cell::Unchanged,
                kind @ (b't' | b'b') => {
                    let len = self.u32()? as usize;
                    let data = self.whole.slice_ref(self.take(len)?);
                    if kind == b't' {
                        Cell::Text(data)
                    } else {
                        Cell::Binary(data)
                    }
                }
                other => {
                    return Err(self.fail(format!("unknown tuple cell kind {:?}", other as char)));
                }
            });
        }
        Ok(cells)
    }

    fn tuple_tagged(&mut self, expected: u8) -> Result<Vec<Cell>, DecodeError> {
        let tag = self.u8()?;
        if tag != expected {
            return Err(self.fail(format!(
                "expected tuple tag {:?}, found {:?}",
                expected as char, tag as char
            )));
        }
        self.tuple()
    }

    fn old_row(&mut self, tag: u8) -> Result<OldRow, DecodeError> {
        match tag {
            b'K' => Ok(OldRow::Key(self.tuple()?)),
            b'O' => Ok(OldRow::Full(self.tuple()?)),
            other => Err(self.fail(format!(
                "expected old tuple tag K or O, found {:?}",
                other as char
            ))),
        }
    }
}

/// Decodes one pgoutput message. Cell values share the message's bytes.
pub fn decode(whole: &Bytes) -> Result<Message, DecodeError> {
    let Some((&tag, rest)) = whole.split_first() else {
        return Err(DecodeError {
            message: "empty",
            problem: "no bytes".into(),
        });
    };
    let message = match tag {
        b'R' => "Relation",
        b'Y' => "Type",
        b'O' => "Origin",
        b'I' => "Insert",
        b'U' => "Update",
        b'D' => "Delete",
        b'T' => "Truncate",
        other => return Ok(Message::Other(other)),
    };
    let mut r = Reader {
        whole,
        bytes: rest,
        message,
    };
    let decoded = match tag {
        b'R' => {
            let id = r.u32()?;
            let schema = r.cstring()?;
            let name = r.cstring()?;
            let replica_identity = match r.u8()? {
                b'd' => ReplicaIdentity::Default,
                b'n' => ReplicaIdentity::Nothing,
                b'f' => ReplicaIdentity::Full,
                b'i' => ReplicaIdentity::Index,
                other => {
                    return Err(r.fail(format!("unknown replica identity {:?}", other as char)));
                }
            };
            let n = r.u16()? as usize;
            let mut columns = Vec::with_capacity(n);
            for _ in 0..n {
                let flags = r.u8()?;
                columns.push(Column {
                    key: flags & 1 == 1,
                    name: r.cstring()?,
                    type_oid: r.u32()?,
                    type_modifier: r.i32()?,
                });
            }
            Message::Relation(Relation {
                id,
                schema,
                name,
                replica_identity,
                columns,
            })
        }
        b'Y' => Message::Type {
            oid: r.u32()?,
            schema: r.cstring()?,
            name: r.cstring()?,
        },
        b'O' => {
            r.take(8)?;
            Message::Origin { name: r.cstring()? }
        }
        b'I' => {
            let relation = r.u32()?;
            let new = r.tuple_tagged(b'N')?;
            Message::Insert { relation, new }
        }
        b'U' => {
            let relation = r.u32()?;
            let (old, new) = match r.u8()? {
                b'N' => (None, r.tuple()?),
                tag => {
                    let old = r.old_row(tag)?;
                    (Some(old), r.tuple_tagged(b'N')?)
                }
            };
            Message::Update { relation, old, new }
        }
        b'D' => {
            let relation = r.u32()?;
            let tag = r.u8()?;
            Message::Delete {
                relation,
                old: r.old_row(tag)?,
            }
        }
        b'T' => {
            let n = r.u32()? as usize;
            let options = r.u8()?;
            let relations = (0..n).map(|_| r.u32()).collect::<Result<_, _>>()?;
            Message::Truncate {
                relations,
                cascade: options & 1 != 0,
                restart_identity: options & 2 != 0,
            }
        }
        other => Message::Other(other),
    };
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relation_bytes() -> Vec<u8> {
        let mut b = vec![b'R'];
        b.extend(16385u32.to_be_bytes());
        b.extend(b"public\0customers\0");
        b.push(b'f');
        b.extend(2u16.to_be_bytes());
        b.push(1);
        b.extend(b"id\0");
        b.extend(23u32.to_be_bytes());
        b.extend((-1i32).to_be_bytes());
        b.push(0);
        b.extend(b"name\0");
        b.extend(25u32.to_be_bytes());
        b.extend((-1i32).to_be_bytes());
        b
    }

    #[test]
    fn decodes_a_relation() {
        let Message::Relation(r) = decode(&Bytes::from(relation_bytes())).unwrap() else {
            panic!("not a relation");
        };
        assert_eq!(r.id, 16385);
        assert_eq!(
            (r.schema.as_str(), r.name.as_str()),
            ("public", "customers")
        );
        assert_eq!(r.replica_identity, ReplicaIdentity::Full);
        assert_eq!(r.columns.len(), 2);
        assert!(r.columns[0].key && !r.columns[1].key);
        assert_eq!(r.columns[1].type_oid, 25);
    }

    #[test]
    fn decodes_changes_with_old_rows_and_toast() {
        let mut b = vec![b'U'];
        b.extend(7u32.to_be_bytes());
        b.push(b'O');
        b.extend(2u16.to_be_bytes());
        b.extend([b't', 0, 0, 0, 1, b'1', b'n']);
        b.push(b'N');
        b.extend(2u16.to_be_bytes());
        b.extend([b't', 0, 0, 0, 1, b'2', b'u']);
        assert_eq!(
            decode(&Bytes::from(b.clone())).unwrap(),
            Message::Update {
                relation: 7,
                old: Some(OldRow::Full(vec![
                    Cell::Text(Bytes::from_static(b"1")),
                    Cell::Null
                ])),
                new: vec![Cell::Text(Bytes::from_static(b"2")), Cell::Unchanged],
            }
        );
        let mut t = vec![b'T'];
        t.extend(2u32.to_be_bytes());
        t.push(1);
        t.extend(5u32.to_be_bytes());
        t.extend(6u32.to_be_bytes());
        assert_eq!(
            decode(&Bytes::from(t.clone())).unwrap(),
            Message::Truncate {
                relations: vec![5, 6],
                cascade: true,
                restart_identity: false
            }
        );
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let full = relation_bytes();
        for len in 1..full.len() {
            let err = decode(&Bytes::copy_from_slice(&full[..len])).unwrap_err();
            assert_eq!(err.message, "Relation");
        }
        let err = decode(&Bytes::from_static(&[b'I', 0, 0, 0, 1, b'X'])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed pgoutput Insert message: expected tuple tag 'N', found 'X'"
        );
    }
}
