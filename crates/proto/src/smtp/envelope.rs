//! The envelope of a mail transaction and the ESMTP parameters of MAIL and RCPT.
//!
//! The parsers of `smtp-proto` understand many extensions; this module keeps only those the
//! session advertises (SIZE, BODY=7BIT/8BITMIME, SMTPUTF8, DSN's RET/ENVID/NOTIFY/ORCPT, and
//! AUTH= which is accepted and ignored) and answers `555 5.5.4` for the rest (RFC 5321
//! §4.1.1.11: parameters of extensions that were not advertised are an error).

use std::borrow::Cow;

use mailstead_types::Address;
use smtp_proto::{MailFrom, RcptTo};

use super::reply::Reply;

/// The envelope of one mail transaction, as the client gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The HELO/EHLO/LHLO argument of the session.
    pub helo: String,
    /// The reverse path; `None` is the null sender `<>` (bounces, RFC 5321 §4.5.5).
    pub sender: Option<Address>,
    /// The parameters of MAIL FROM.
    pub mail_params: MailParams,
    /// The accepted recipients, in the order they were accepted.
    pub recipients: Vec<Recipient>,
    /// The user who authenticated with AUTH, if any.
    pub auth_user: Option<String>,
}

/// One accepted recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The forward path.
    pub address: Address,
    /// Its RCPT TO parameters.
    pub params: RcptParams,
}

/// The parameters of MAIL FROM that the session supports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// `SIZE=` the client declared (RFC 1870); `None` when absent (or declared as 0).
    pub size: Option<usize>,
    /// `BODY=` (RFC 6152 8BITMIME).
    pub body: Option<Body>,
    /// `SMTPUTF8` was given (RFC 6531).
    pub smtputf8: bool,
    /// `RET=` (RFC 3461 §4.3).
    pub ret: Option<Ret>,
    /// `ENVID=` (RFC 3461 §4.4), xtext-decoded.
    pub envid: Option<String>,
}

/// The body type declared with `BODY=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// `BODY=7BIT`.
    SevenBit,
    /// `BODY=8BITMIME` (RFC 6152).
    EightBitMime,
    /// `BODY=BINARYMIME` (RFC 3030). Not advertised: the session rejects it with 555, the
    /// variant exists for the outbound side.
    BinaryMime,
}

/// What a DSN should return of the message (RFC 3461 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: the header only.
    Hdrs,
}

/// The parameters of RCPT TO that the session supports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcptParams {
    /// `NOTIFY=` (RFC 3461 §4.1): `[Never]` or a list of Success/Failure/Delay.
    pub notify: Option<Vec<Notify>>,
    /// `ORCPT=rfc822;...` (RFC 3461 §4.2), the address part, xtext-decoded.
    pub orcpt: Option<String>,
}

/// One `NOTIFY=` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notify {
    /// `NEVER`.
    Never,
    /// `SUCCESS`.
    Success,
    /// `FAILURE`.
    Failure,
    /// `DELAY`.
    Delay,
}

fn unsupported(what: &str) -> Reply {
    // RFC 5321 §4.1.1.11 / RFC 1869 §6: 555 for an unrecognised or unimplemented parameter.
    Reply::new(555, "5.5.4", format!("{what} parameter not supported"))
}

impl MailParams {
    /// Keeps the supported parameters of a parsed MAIL FROM, or says which one is refused.
    pub(crate) fn from_request(from: &MailFrom<Cow<'_, str>>) -> Result<MailParams, Reply> {
        use smtp_proto::{
            MAIL_BODY_7BIT, MAIL_BODY_8BITMIME, MAIL_BODY_BINARYMIME, MAIL_RET_FULL, MAIL_RET_HDRS,
            MAIL_SMTPUTF8,
        };
        let refused = [
            (from.flags & MAIL_BODY_BINARYMIME != 0, "BODY=BINARYMIME"),
            (from.flags & smtp_proto::MAIL_REQUIRETLS != 0, "REQUIRETLS"),
            (from.flags & smtp_proto::MAIL_CONPERM != 0, "CONPERM"),
            (from.by != 0, "BY"),
            (from.hold_for != 0 || from.hold_until != 0, "FUTURERELEASE"),
            (from.trans_id.is_some(), "TRANSID"),
            (from.solicit.is_some(), "SOLICIT"),
            (from.mtrk.is_some(), "MTRK"),
            (from.mt_priority != 0, "MT-PRIORITY"),
        ];
        if let Some((_, name)) = refused.iter().find(|(given, _)| *given) {
            return Err(unsupported(name));
        }
        let body = if from.flags & MAIL_BODY_8BITMIME != 0 {
            Some(Body::EightBitMime)
        } else if from.flags & MAIL_BODY_7BIT != 0 {
            Some(Body::SevenBit)
        } else {
            None
        };
        let ret = if from.flags & MAIL_RET_FULL != 0 {
            Some(Ret::Full)
        } else if from.flags & MAIL_RET_HDRS != 0 {
            Some(Ret::Hdrs)
        } else {
            None
        };
        // RFC 4954 §5: AUTH= on MAIL is accepted and ignored; we trust only our own AUTH.
        Ok(MailParams {
            size: (from.size != 0).then_some(from.size),
            body,
            smtputf8: from.flags & MAIL_SMTPUTF8 != 0,
            ret,
            envid: from.env_id.as_ref().map(|e| e.to_string()),
        })
    }
}

impl RcptParams {
    /// Keeps the supported parameters of a parsed RCPT TO, or says which one is refused.
    pub(crate) fn from_request(to: &RcptTo<Cow<'_, str>>) -> Result<RcptParams, Reply> {
        use smtp_proto::{
            RCPT_CONNEG, RCPT_NOTIFY_DELAY, RCPT_NOTIFY_FAILURE, RCPT_NOTIFY_NEVER, RCPT_NOTIFY_SUCCESS,
            RCPT_RRVS_CONTINUE, RCPT_RRVS_REJECT,
        };
        if to.flags & (RCPT_RRVS_REJECT | RCPT_RRVS_CONTINUE) != 0 || to.rrvs != 0 {
            return Err(unsupported("RRVS"));
        }
        if to.flags & RCPT_CONNEG != 0 {
            return Err(unsupported("CONNEG"));
        }
        let mut notify = Vec::new();
        for (flag, keyword) in [
            (RCPT_NOTIFY_NEVER, Notify::Never),
            (RCPT_NOTIFY_SUCCESS, Notify::Success),
            (RCPT_NOTIFY_FAILURE, Notify::Failure),
            (RCPT_NOTIFY_DELAY, Notify::Delay),
        ] {
            if to.flags & flag != 0 {
                notify.push(keyword);
            }
        }
        // RFC 3461 §4.1: NEVER must appear alone.
        if notify.contains(&Notify::Never) && notify.len() > 1 {
            return Err(Reply::new(501, "5.5.4", "NOTIFY=NEVER cannot be combined"));
        }
        Ok(RcptParams {
            notify: (!notify.is_empty()).then_some(notify),
            orcpt: to.orcpt.as_ref().map(|o| o.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp_proto::Request;

    fn mail(line: &str) -> Result<MailParams, Reply> {
        match Request::parse(&mut line.as_bytes().iter()) {
            Ok(Request::Mail { from }) => MailParams::from_request(&from),
            other => Err(Reply::new(500, "5.5.2", format!("{other:?}"))),
        }
    }

    fn rcpt(line: &str) -> Result<RcptParams, Reply> {
        match Request::parse(&mut line.as_bytes().iter()) {
            Ok(Request::Rcpt { to }) => RcptParams::from_request(&to),
            other => Err(Reply::new(500, "5.5.2", format!("{other:?}"))),
        }
    }

    #[test]
    fn supported_mail_parameters() {
        let p = mail("MAIL FROM:<a@b.org> SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x+2By\r\n");
        assert_eq!(
            p,
            Ok(MailParams {
                size: Some(1000),
                body: Some(Body::EightBitMime),
                smtputf8: true,
                ret: Some(Ret::Hdrs),
                envid: Some("x+y".into()),
            })
        );
        assert_eq!(mail("MAIL FROM:<> AUTH=<>\r\n"), Ok(MailParams::default()));
    }

    #[test]
    fn unadvertised_mail_parameters_are_refused() {
        for line in [
            "MAIL FROM:<a@b.org> BODY=BINARYMIME\r\n",
            "MAIL FROM:<a@b.org> REQUIRETLS\r\n",
            "MAIL FROM:<a@b.org> HOLDFOR=10\r\n",
            "MAIL FROM:<a@b.org> MT-PRIORITY=3\r\n",
        ] {
            assert_eq!(mail(line).map_err(|r| r.code), Err(555), "{line}");
        }
    }

    #[test]
    fn rcpt_parameters() {
        let p = rcpt("RCPT TO:<a@b.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a@b.org\r\n");
        assert_eq!(
            p,
            Ok(RcptParams {
                notify: Some(vec![Notify::Success, Notify::Delay]),
                orcpt: Some("a@b.org".into()),
            })
        );
        assert_eq!(rcpt("RCPT TO:<a@b.org> CONNEG\r\n").map_err(|r| r.code), Err(555));
    }
}
