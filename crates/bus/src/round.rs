//! A relay's publish round, as the headers of its messages name it: the
//! relay groups a round's events by organization, one message each, so a
//! consumer of every organization needs all of a round's messages to hold
//! its events without a hole. The headers let it wait for the rest of a
//! round it holds part of, instead of reading the hole from the log.

use lapin::types::{AMQPValue, FieldTable, ShortString};

const ROUND_HEADER: &str = "rollcall-round";
const PARTS_HEADER: &str = "rollcall-round-parts";

/// One publish round: its id (`<first position>-<last position>` of the
/// events it carries) and how many messages it was published as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    pub id: String,
    pub parts: usize,
}

impl Round {
    /// Writes the round into a message's headers.
    pub(crate) fn write(&self, headers: &mut FieldTable) {
        headers.insert(
            ROUND_HEADER.into(),
            AMQPValue::LongString(self.id.as_str().into()),
        );
        headers.insert(
            PARTS_HEADER.into(),
            AMQPValue::LongString(self.parts.to_string().into()),
        );
    }

    /// The round a message's headers name, if they name one whole.
    pub(crate) fn read(headers: Option<&FieldTable>) -> Option<Round> {
        let headers = headers?.inner();
        let text = |name: &str| match headers.get(&ShortString::from(name))? {
            AMQPValue::LongString(value) => Some(value.to_string()),
            _ => None,
        };
        Some(Round {
            id: text(ROUND_HEADER)?,
            parts: text(PARTS_HEADER)?.parse().ok()?,
        })
    }
}

/// Whether the messages in hand hold every part of the round the last of
/// them belongs to, given their rounds from the last one back. The relay
/// publishes a round's messages back to back on one channel, so its parts
/// lie together at the end: only that run is read, not every message in
/// hand. A message that names no round is whole by itself.
pub(crate) fn last_round_complete(
    rounds_from_last: impl IntoIterator<Item = Option<Round>>,
) -> bool {
    let mut rounds = rounds_from_last.into_iter();
    let Some(Some(last)) = rounds.next() else {
        return true;
    };
    let held = 1 + rounds
        .take_while(|round| round.as_ref().is_some_and(|round| round.id == last.id))
        .count();
    held >= last.parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(id: &str, parts: usize) -> Option<Round> {
        Some(Round {
            id: id.into(),
            parts,
        })
    }

    #[test]
    fn a_round_travels_in_the_headers_and_back() {
        let mut headers = FieldTable::default();
        let sent = Round {
            id: "17-42".into(),
            parts: 3,
        };
        sent.write(&mut headers);
        assert_eq!(Round::read(Some(&headers)), Some(sent));
        assert_eq!(Round::read(Some(&FieldTable::default())), None);
        assert_eq!(Round::read(None), None);
    }

    fn complete(rounds: &[Option<Round>]) -> bool {
        last_round_complete(rounds.iter().rev().cloned())
    }

    #[test]
    fn the_last_round_is_complete_once_every_part_is_held() {
        assert!(complete(&[]));
        assert!(complete(&[None]));
        assert!(complete(&[round("1-4", 1)]));
        assert!(!complete(&[round("1-4", 2)]));
        assert!(complete(&[round("1-4", 2), round("1-4", 2)]));
        // Only the last round counts: an earlier one arrived in full before.
        assert!(!complete(&[
            round("1-4", 2),
            round("1-4", 2),
            round("5-9", 3),
            round("5-9", 3)
        ]));
        assert!(complete(&[round("1-4", 2), round("5-9", 1)]));
    }
}
