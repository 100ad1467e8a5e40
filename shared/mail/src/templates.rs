//! Every email Jinguo sends: subject, HTML and plain text, from askama templates in
//! shared/mail/templates (`<name>.html` and its twin `<name>.txt`).

use askama::Template;

/// A mail ready to store: what the recipient reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// An email: its subject and both bodies.
pub trait Email: Send + Sync {
    fn render(&self) -> Result<Rendered, askama::Error>;
}

/// Declares the HTML and text templates of an email type and its `Email` impl.
macro_rules! email {
    ($ty:ident, $html:literal, $text:literal, |$m:ident| $subject:expr) => {
        const _: () = {
            #[derive(Template)]
            #[template(path = $html)]
            struct Html<'a> {
                m: &'a $ty,
            }

            #[derive(Template)]
            #[template(path = $text)]
            struct Text<'a> {
                m: &'a $ty,
            }

            impl Email for $ty {
                fn render(&self) -> Result<Rendered, askama::Error> {
                    let $m = self;
                    Ok(Rendered {
                        subject: $subject,
                        text: Text { m: self }.render()?,
                        html: Html { m: self }.render()?,
                    })
                }
            }
        };
    };
}

/// "Your task is due": one task, one link.
#[derive(Debug, Clone)]
pub struct DeadlineReminder {
    pub recipient: String,
    /// What is due, e.g. "王芳家庭的最美家庭推荐（村级审核）".
    pub task: String,
    /// When, already in words, e.g. "2026年12月1日（周二）17:30".
    pub due: String,
    pub link: String,
}

email!(
    DeadlineReminder,
    "deadline_reminder.html",
    "deadline_reminder.txt",
    |m| format!("【巾帼】提醒：{}将于{}到期", m.task, m.due)
);

/// The morning list of what is open: a reviewer's open tasks (overdue first) and, for a county
/// admin, the units where nominations wait for want of a reviewer. Names and links only.
#[derive(Debug, Clone)]
pub struct DailyDigest {
    pub recipient: String,
    pub date: String,
    pub items: Vec<DigestItem>,
    /// Units without an active reviewer where nominations wait (county admins only).
    pub stalled: Vec<StalledUnit>,
}

/// One open task in a [`DailyDigest`].
#[derive(Debug, Clone)]
pub struct DigestItem {
    /// What is open, e.g. "李秀英家庭的最美家庭推荐".
    pub title: String,
    /// The review level's label, e.g. "村级"; empty when the item has no level.
    pub level: String,
    /// When it is due, in words; `None`: no deadline.
    pub due: Option<String>,
    /// The deadline has passed.
    pub overdue: bool,
    pub link: String,
}

/// A unit where nominations wait because it has no active reviewer, with how many.
#[derive(Debug, Clone)]
pub struct StalledUnit {
    /// The unit's name, never its code.
    pub unit: String,
    /// The review level's label, e.g. "村级".
    pub level: String,
    pub count: u64,
    /// Where to appoint a reviewer.
    pub link: String,
}

impl DailyDigest {
    /// "3 项待办" / "2 个单位无在岗审核员", what the subject counts.
    fn counts(&self) -> String {
        let mut parts = Vec::new();
        if !self.items.is_empty() || self.stalled.is_empty() {
            parts.push(format!("{} 项", self.items.len()));
        }
        if !self.stalled.is_empty() {
            parts.push(format!("{} 个单位无在岗审核员", self.stalled.len()));
        }
        parts.join("，")
    }
}

email!(
    DailyDigest,
    "daily_digest.html",
    "daily_digest.txt",
    |m| format!("【巾帼】{} 待办汇总（{}）", m.date, m.counts())
);

/// The sign-in link.
#[derive(Debug, Clone)]
pub struct SignInLink {
    pub recipient: String,
    pub link: String,
    pub minutes: u64,
}

email!(SignInLink, "sign_in.html", "sign_in.txt", |_m| {
    "【巾帼】登录链接".to_owned()
});

/// Tells a county supervisor that someone used emergency access. A case number only: nothing
/// about the case itself ever goes into an email, nor the reason (free text that may name
/// people), which is kept with the grant only — not in the audit log — as the mail says.
#[derive(Debug, Clone)]
pub struct BreakGlassNotice {
    pub recipient: String,
    pub requester: String,
    pub case_number: String,
    pub at: String,
    pub until: String,
    pub link: String,
}

/// A referral asks something of the recipient (take the case, sign for a task, a clock about
/// to run out). The case number, what is asked and a link: never a name, a phone, an address
/// or anything of the incident.
#[derive(Debug, Clone)]
pub struct ReferralNotice {
    pub recipient: String,
    pub case_number: String,
    /// What is asked, in words, e.g. "签收联动任务（公安：出具告诫书）".
    pub asked: String,
    /// By when, in words; empty when there is no deadline.
    pub due: String,
    pub urgent: bool,
    pub link: String,
}

email!(
    ReferralNotice,
    "referral_notice.html",
    "referral_notice.txt",
    |m| format!(
        "【巾帼】{}案件 {}：{}",
        if m.urgent { "【紧急】" } else { "" },
        m.case_number,
        m.asked
    )
);

email!(
    BreakGlassNotice,
    "break_glass.html",
    "break_glass.txt",
    |m| format!("【巾帼】紧急访问通知：案件 {}", m.case_number)
);

/// A reviewer's task: the family, the category and the level, with the review link.
#[derive(Debug, Clone)]
pub struct ReviewRequest {
    pub recipient: String,
    pub campaign: String,
    pub family: String,
    /// Where the family lives, by name: "什川镇 北庄村委会".
    pub village: String,
    pub category: String,
    /// 村级 / 乡镇级 / 县级
    pub level: String,
    pub link: String,
    /// When it is due, in words; empty when the level has no deadline.
    pub due: String,
}

email!(
    ReviewRequest,
    "review_request.html",
    "review_request.txt",
    |m| format!(
        "【巾帼】请审核：{}家庭（{}·{}）",
        m.family, m.category, m.level
    )
);

/// Tells county admins that a level has nobody to review it.
#[derive(Debug, Clone)]
pub struct NoReviewerNotice {
    pub recipient: String,
    pub campaign: String,
    pub family: String,
    pub level: String,
    pub unit: String,
    pub link: String,
}

email!(
    NoReviewerNotice,
    "no_reviewer.html",
    "no_reviewer.txt",
    |m| format!(
        "【巾帼】{}无在岗审核员：{}家庭的推荐待处理",
        m.unit, m.family
    )
);

/// Tells the county reviewers that a family in 公示 has an objection to investigate. Nothing of
/// the objection (who, their phone, what) is in the mail: the link's page shows it.
#[derive(Debug, Clone)]
pub struct ObjectionNotice {
    pub recipient: String,
    pub campaign: String,
    pub family: String,
    /// The township's and the village's names.
    pub village: String,
    pub link: String,
}

email!(
    ObjectionNotice,
    "objection_notice.html",
    "objection_notice.txt",
    |m| format!("【巾帼】公示异议待核查：{}家庭", m.family)
);

/// 催办: a level's deadline passed with its tasks open; the reviewers one level up may decide on
/// its behalf through the link.
#[derive(Debug, Clone)]
pub struct EscalationNotice {
    pub recipient: String,
    pub campaign: String,
    pub family: String,
    pub village: String,
    /// The level late (村级审核 …) and the unit that is late with it.
    pub level: String,
    pub unit: String,
    pub due: String,
    pub link: String,
}

email!(
    EscalationNotice,
    "escalation_notice.html",
    "escalation_notice.txt",
    |m| format!("【巾帼】催办：{}家庭的推荐{}审核已逾期", m.family, m.level)
);

/// 催办 by hand: a county admin asks a reviewer to finish an open task.
#[derive(Debug, Clone)]
pub struct ReviewUrge {
    pub recipient: String,
    /// Who asks (the admin's name).
    pub by: String,
    /// What, e.g. "李秀英家庭的最美家庭推荐（村级审核）".
    pub task: String,
    pub due: Option<String>,
    pub link: String,
}

email!(
    ReviewUrge,
    "review_urge.html",
    "review_urge.txt",
    |m| format!("【巾帼】催办：请尽快完成{}", m.task)
);

/// Tells a nominator (or, for a self-nomination, the village chair, who tells the family) what
/// became of a nomination: returned, not passed, in 公示, awarded.
#[derive(Debug, Clone)]
pub struct NominationOutcome {
    pub recipient: String,
    pub campaign: String,
    pub family: String,
    /// What happened, completing "…家庭的推荐" (e.g. "已被退回，请修改后重新提交").
    pub outcome: String,
    pub reason: Option<String>,
    /// A self-nomination: the recipient is asked to tell the family.
    pub for_family: bool,
    /// Where to act or look, with the words of its button.
    pub link: Option<String>,
    pub action: String,
}

email!(
    NominationOutcome,
    "nomination_outcome.html",
    "nomination_outcome.txt",
    |m| format!(
        "【巾帼】{}家庭的推荐{}",
        m.family,
        m.outcome.split('，').next().unwrap_or_default()
    )
);

/// Asks the county case officers to check a held nomination's eligibility. It names neither
/// the family nor the reason: only the campaign, the village and a link.
#[derive(Debug, Clone)]
pub struct EligibilityCheck {
    pub recipient: String,
    pub campaign: String,
    pub village: String,
    pub link: String,
}

email!(
    EligibilityCheck,
    "eligibility_check.html",
    "eligibility_check.txt",
    |m| format!("【巾帼】{}：一份推荐待资格核查", m.campaign)
);

/// Welcomes a person just added as staff: which role, at which unit, and how to sign in (the
/// sign-in page asks for the email and mails a link; there is no password).
#[derive(Debug, Clone)]
pub struct StaffWelcome {
    pub recipient: String,
    /// The address to enter on the sign-in page.
    pub email: String,
    /// The role in Chinese, e.g. "审核员".
    pub role: String,
    /// The unit by name, e.g. "皋兰县 什川镇".
    pub unit: String,
    /// The sign-in page, `{public_url}/signin`.
    pub link: String,
}

email!(
    StaffWelcome,
    "staff_welcome.html",
    "staff_welcome.txt",
    |m| format!("【巾帼】欢迎加入巾帼平台：{}{}", m.unit, m.role)
);

#[cfg(test)]
mod tests {
    use super::*;

    fn reminder() -> DeadlineReminder {
        DeadlineReminder {
            recipient: "王芳".into(),
            task: "李秀英家庭的最美家庭推荐（村级审核）".into(),
            due: "2026年12月1日（周二）17:30".into(),
            link: "http://127.0.0.1:8080/review/abc".into(),
        }
    }

    #[test]
    fn deadline_reminder_snapshot() {
        let r = reminder().render().unwrap();
        insta::assert_snapshot!("deadline_reminder_subject", r.subject);
        insta::assert_snapshot!("deadline_reminder_text", r.text);
        insta::assert_snapshot!("deadline_reminder_html", r.html);
    }

    #[test]
    fn daily_digest_snapshot() {
        let d = DailyDigest {
            recipient: "张敏".into(),
            date: "2026年11月30日".into(),
            items: vec![
                DigestItem {
                    title: "李秀英家庭的最美家庭推荐".into(),
                    level: "村级".into(),
                    due: Some("2026年11月27日（周五）17:30".into()),
                    overdue: true,
                    link: "http://127.0.0.1:8080/tasks/a".into(),
                },
                DigestItem {
                    title: "马丽家庭的五好家庭推荐".into(),
                    level: "乡镇级".into(),
                    due: Some("2026年12月3日（周四）17:30".into()),
                    overdue: false,
                    link: "http://127.0.0.1:8080/tasks/b".into(),
                },
                DigestItem {
                    title: "王芳家庭的最美家庭推荐".into(),
                    level: "县级".into(),
                    due: None,
                    overdue: false,
                    link: "http://127.0.0.1:8080/tasks/c".into(),
                },
            ],
            stalled: vec![StalledUnit {
                unit: "庄子坪村委会".into(),
                level: "村级".into(),
                count: 12,
                link: "http://127.0.0.1:8080/admin/staff?org=620122000000&unit=620122100201".into(),
            }],
        };
        let r = d.render().unwrap();
        insta::assert_snapshot!("daily_digest_subject", r.subject);
        insta::assert_snapshot!("daily_digest_text", r.text);
        insta::assert_snapshot!("daily_digest_html", r.html);
        let stalled_only = DailyDigest { items: vec![], ..d }.render().unwrap();
        assert_eq!(
            stalled_only.subject,
            "【巾帼】2026年11月30日 待办汇总（1 个单位无在岗审核员）"
        );
        assert!(
            !stalled_only.text.contains("项待审核"),
            "{}",
            stalled_only.text
        );
    }

    #[test]
    fn sign_in_and_break_glass_snapshots() {
        let s = SignInLink {
            recipient: "王芳".into(),
            link: "http://127.0.0.1:8080/link/0123".into(),
            minutes: 15,
        }
        .render()
        .unwrap();
        insta::assert_snapshot!("sign_in_text", s.text);
        insta::assert_snapshot!("sign_in_subject", s.subject);
        let b = BreakGlassNotice {
            recipient: "张敏".into(),
            requester: "李娜".into(),
            case_number: "C-2026-0042".into(),
            at: "2026-11-28 20:15".into(),
            until: "2026-11-28 20:45".into(),
            link: "http://127.0.0.1:8080/me".into(),
        }
        .render()
        .unwrap();
        insta::assert_snapshot!("break_glass_text", b.text);
        insta::assert_snapshot!("break_glass_subject", b.subject);
    }

    #[test]
    fn referral_notice_snapshot() {
        let r = ReferralNotice {
            recipient: "周督导".into(),
            case_number: "620122-2026-0042".into(),
            asked: "签收联动任务（公安：出具告诫书）".into(),
            due: "2026年12月1日 17:30".into(),
            urgent: true,
            link: "http://127.0.0.1:8080/link/abc".into(),
        }
        .render()
        .unwrap();
        insta::assert_snapshot!("referral_notice_subject", r.subject);
        insta::assert_snapshot!("referral_notice_text", r.text);
        assert!(
            r.html.contains("http://127.0.0.1:8080/link/abc</p>"),
            "the URL as text too"
        );
    }

    #[test]
    fn review_request_snapshot() {
        let r = ReviewRequest {
            recipient: "王芳".into(),
            campaign: "2026年皋兰县最美家庭评选".into(),
            family: "李秀英".into(),
            village: "什川镇 北庄村委会".into(),
            category: "最美家庭".into(),
            level: "村级".into(),
            link: "http://127.0.0.1:8080/link/abc".into(),
            due: "2026年12月1日（周二）17:30".into(),
        }
        .render()
        .unwrap();
        insta::assert_snapshot!("review_request_subject", r.subject);
        insta::assert_snapshot!("review_request_text", r.text);
    }

    #[test]
    fn staff_welcome_snapshot() {
        let w = StaffWelcome {
            recipient: "王芳".into(),
            email: "wangfang@example.cn".into(),
            role: "审核员".into(),
            unit: "皋兰县 什川镇".into(),
            link: "http://127.0.0.1:8080/signin".into(),
        }
        .render()
        .unwrap();
        insta::assert_snapshot!("staff_welcome_subject", w.subject);
        insta::assert_snapshot!("staff_welcome_text", w.text);
        insta::assert_snapshot!("staff_welcome_html", w.html);
    }

    #[test]
    fn html_escapes_what_text_keeps() {
        let mut r = reminder();
        r.task = "<script>".into();
        let out = r.render().unwrap();
        assert!(
            out.html.contains("&#60;script&#62;") || out.html.contains("&lt;script&gt;"),
            "{}",
            out.html
        );
        assert!(out.text.contains("<script>"));
    }

    #[test]
    fn an_outcome_says_what_happened_and_asks_the_chair_to_tell_the_family() {
        let returned = NominationOutcome {
            recipient: "村妇联主席".into(),
            campaign: "2026年最美家庭".into(),
            family: "李秀英".into(),
            outcome: "已被退回，请修改后重新提交".into(),
            reason: Some("事迹请补充具体事例".into()),
            for_family: true,
            link: Some("https://jinguo.example/nominations/1".into()),
            action: "修改并重新提交".into(),
        }
        .render()
        .unwrap();
        assert_eq!(returned.subject, "【巾帼】李秀英家庭的推荐已被退回");
        for body in [&returned.text, &returned.html] {
            assert!(body.contains("事迹请补充具体事例"), "{body}");
            assert!(body.contains("请您转告该家庭"), "{body}");
            assert!(
                body.contains("https://jinguo.example/nominations/1"),
                "{body}"
            );
        }
        let rejected = NominationOutcome {
            recipient: "王芳".into(),
            campaign: "2026年最美家庭".into(),
            family: "李秀英".into(),
            outcome: "未通过审核".into(),
            reason: None,
            for_family: false,
            link: None,
            action: String::new(),
        }
        .render()
        .unwrap();
        assert!(!rejected.text.contains("理由") && !rejected.text.contains("转告"));
    }

    #[test]
    fn an_objection_notice_names_the_family_and_nothing_of_the_objection() {
        let out = ObjectionNotice {
            recipient: "县审核员".into(),
            campaign: "2026年最美家庭".into(),
            family: "李秀英".into(),
            village: "石洞镇 魏家庄村".into(),
            link: "https://jinguo.example/link/abc".into(),
        }
        .render()
        .unwrap();
        assert_eq!(out.subject, "【巾帼】公示异议待核查：李秀英家庭");
        assert!(out.text.contains("石洞镇 魏家庄村") && out.text.contains("/link/abc"));
        assert!(out.html.contains("/link/abc"));
    }
}

/// A link in a tour mail: what it does and where.
#[derive(Debug, Clone)]
pub struct TourLink {
    pub label: String,
    pub url: String,
}

/// One line of a tour mail (a talk), with its own link when it has one (decline this talk).
#[derive(Debug, Clone)]
pub struct TourLine {
    pub text: String,
    pub link: Option<TourLink>,
}

/// Every mail of a lecture tour (巡回宣讲): a lecturer's talks, a host's visit, a change, a
/// reminder, an attendance request. `subject` completes "【巾帼】"; `calendar` says an .ics
/// file is attached.
#[derive(Debug, Clone)]
pub struct TourNotice {
    pub recipient: String,
    pub subject: String,
    pub lead: String,
    pub lines: Vec<TourLine>,
    pub actions: Vec<TourLink>,
    pub calendar: bool,
}

email!(
    TourNotice,
    "tour_notice.html",
    "tour_notice.txt",
    |m| format!("【巾帼】{}", m.subject)
);
