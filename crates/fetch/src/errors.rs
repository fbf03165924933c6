//! The errors a fetch ends with. All are the caller's URL's fault, so all are `Invalid` (400)
//! with a message naming the reason; the codes are stable.

use assetlib_core::Code;
use assetlib_core::Error;
use std::net::IpAddr;
use std::time::Duration;

pub(crate) fn invalid_url(reason: impl std::fmt::Display) -> Error {
    Error::invalid(Code::UrlInvalid, format!("The URL is not valid: {reason}."))
}

pub(crate) fn scheme() -> Error {
    Error::invalid(Code::UrlSchemeRefused, "The URL must use http or https.")
}

pub(crate) fn userinfo() -> Error {
    Error::invalid(Code::UrlUserinfoRefused, "The URL may not contain a user name or password.")
}

/// `reason` is a phrase such as "a loopback address".
pub(crate) fn host_refused(host: &str, reason: &str) -> Error {
    Error::invalid(Code::UrlHostRefused, format!("The URL's host {host} is {reason} and may not be fetched."))
}

pub(crate) fn resolved_refused(host: &str, ip: IpAddr, reason: &str) -> Error {
    Error::invalid(
        Code::UrlHostRefused,
        format!("The URL's host {host} resolves to {ip}, {reason}, and may not be fetched."),
    )
}

pub(crate) fn unresolved(host: &str) -> Error {
    unreachable(format!("the host {host} was not found"))
}

pub(crate) fn unreachable(reason: impl std::fmt::Display) -> Error {
    Error::invalid(Code::UrlUnreachable, format!("The URL could not be fetched: {reason}."))
}

pub(crate) fn too_many_redirects(max: usize) -> Error {
    Error::invalid(Code::UrlTooManyRedirects, format!("The URL redirected more than {max} times."))
}

pub(crate) fn bad_redirect() -> Error {
    Error::invalid(Code::UrlBadRedirect, "The URL redirected to a location that is not a valid URL.")
}

pub(crate) fn status(status: reqwest::StatusCode) -> Error {
    Error::invalid(Code::UrlStatus, format!("The URL answered {status}."))
}

pub(crate) fn too_large(max: u64) -> Error {
    Error::invalid(Code::UrlTooLarge, format!("The file at the URL is larger than the upload limit of {max} bytes."))
}

pub(crate) fn timeout(limit: Duration) -> Error {
    Error::invalid(Code::UrlTimeout, format!("The URL took longer than {}.", human_duration(limit)))
}

/// `30 s`, or `250 ms` when not whole seconds.
fn human_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_secs(30)), "30 s");
        assert_eq!(human_duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1500 ms");
    }
}
