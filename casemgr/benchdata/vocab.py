"""Word lists for bench data. Every surname carries a "Bench-" prefix, so no generated person
can be mistaken for a real one, on screen or in a printed report."""

from __future__ import annotations

FIRST_NAMES = (
    "Avery", "Blake", "Casey", "Drew", "Emery", "Finley", "Gray", "Harper", "Indigo", "Jules",
    "Kai", "Logan", "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Reese", "Sage", "Taylor",
    "Umber", "Val", "Wren", "Xen", "Yael", "Zion", "Alex", "Bay", "Cameron", "Dakota",
    "Eden", "Frankie", "Gale", "Hayden", "Ira", "Jesse", "Kendall", "Lane", "Marlowe", "Nico",
)  # fmt: skip

LAST_NAMES = (
    "Abernathy", "Brightwater", "Castellanos", "Delacroix", "Eastwood", "Fairweather",
    "Greenvale", "Hollister", "Ivanova", "Jankowski", "Kettering", "Lindqvist", "Marchetti",
    "Nakamura", "Okonkwo", "Pemberton", "Quintero", "Rosenthal", "Szabo", "Thornbury",
    "Underhill", "Valdivia", "Whitfield", "Xiong", "Yardley", "Zielinski", "Ashgrove",
    "Birchwood", "Coldwell", "Dunmore",
)  # fmt: skip

SURNAME_PREFIX = "Bench-"

# (role key, credentials) of the staff kinds; the role key is also the login's middle part.
CREDENTIALS = {
    "manager": ("MSW", "MBA"),
    "counselor": ("LADC", "CADC", "LCSW", "LPC"),
    "nurse": ("RN", "LPN"),
    "physician": ("MD", "DO"),
    "supervisor": ("LCSW", "LMFT"),
    "admin": ("",),
}

GROUP_TOPICS = (
    "Coping with cravings",
    "Relapse warning signs",
    "Building a sober support network",
    "Managing stress without substances",
    "Family roles and recovery",
    "Sleep, nutrition and recovery",
    "Anger and emotional regulation",
    "Refusal skills",
    "Planning for high-risk situations",
    "Gratitude and meaning in recovery",
)
GROUP_KINDS = ("Process group", "Relapse prevention group", "Skills group", "Recovery group")

PRESENTATION = (
    "Client arrived on time, casually dressed, with good hygiene.",
    "Client appeared tired but engaged; affect constricted, mood described as 'okay'.",
    "Client was alert and oriented, speech normal in rate and volume.",
    "Client presented as anxious, fidgeting early in the session, settling as it went on.",
    "Client was cooperative and made good eye contact throughout.",
)
REPORTS = (
    "Client reports no use since the last session and rates cravings as manageable.",
    "Client describes conflict at home and strong urges on the weekend, without use.",
    "Client reports attending two mutual-help meetings this week and calling a peer.",
    "Client says sleep has improved and appetite is returning.",
    "Client reports stress about work and money and wants to talk about coping.",
)
INTERVENTIONS = (
    "Used motivational interviewing to explore ambivalence about change.",
    "Reviewed the relapse prevention plan and rehearsed refusal skills.",
    "Practised a grounding exercise and urge surfing for cravings.",
    "Used CBT to identify and challenge thoughts that precede use.",
    "Reviewed progress on treatment plan objectives and set a goal for the week.",
)
RESPONSES = (
    "Client engaged well and identified two triggers to plan for.",
    "Client was receptive and practised the skill in session.",
    "Client was somewhat guarded but agreed to try the exercise before next session.",
    "Client expressed motivation and linked the work to personal goals.",
    "Client became tearful discussing family, then reflected on supports available.",
)
ASSESSMENTS = (
    "Progressing toward objectives; motivation appears stable. No safety concerns today.",
    "Early recovery with ongoing cravings; coping skills emerging. Risk low.",
    "Mild setback in mood, no use reported; continues to engage. Risk low.",
    "Good progress; insight into patterns of use is improving.",
)
PLANS = (
    "Continue weekly individual sessions; practise the coping plan daily.",
    "Attend three mutual-help meetings before next session; review the trigger log.",
    "Next session in one week; bring the completed worksheet.",
    "Coordinate with case management about housing; continue group attendance.",
)
NURSING = (
    "Vital signs stable. Client resting, tolerating fluids, withdrawal symptoms easing.",
    "Client reports body aches and poor sleep; comfort measures offered, effective.",
    "Client ate most of meals, ambulating independently; no adverse reactions to medication.",
    "Client anxious overnight, reassured; COWS reassessed per protocol.",
)
GROUP_PARTICIPATION = (
    "Participated actively, shared about a recent trigger and gave feedback to peers.",
    "Listened attentively, shared briefly when invited.",
    "Engaged in the role-play and practised refusal skills with a peer.",
    "Quiet at first, then spoke about family support in recovery.",
)
GROUP_PROGRESS = (
    "Applying group skills toward the objective on coping with cravings.",
    "Shows growing insight into high-risk situations; continue group.",
    "Progress toward building a support network; encouraged to find a sponsor.",
)
FAMILY = (
    "Session with client and family member on communication and boundaries in recovery.",
    "Family session reviewing the aftercare plan and how relatives can support it.",
)
CASE_MANAGEMENT = (
    "Called the housing program about a recovery residence opening; follow-up next week.",
    "Helped client apply for benefits and arranged transport for outpatient appointments.",
    "Coordinated with the outpatient prescriber about continuing medication after discharge.",
)
PROBLEMS = (
    ("Opioid use disorder with recent withdrawal.", "Achieve and maintain abstinence."),
    ("Limited coping skills for cravings and stress.", "Use healthy coping skills daily."),
    ("Few sober supports in the community.", "Build a reliable sober support network."),
    ("Unstable housing after discharge.", "Secure safe, substance-free housing."),
)
OBJECTIVES = (
    "Identify three personal triggers and a coping response for each.",
    "Attend at least three mutual-help meetings per week.",
    "Practise one coping skill daily and log its use.",
    "Name two sober supports and contact one weekly.",
)
MODALITIES = (
    ("Individual counseling (CBT)", "Weekly"),
    ("Relapse prevention group", "Three times a week"),
    ("Case management", "As needed"),
)
STRENGTHS = (
    "Motivated for change; supportive sibling; prior period of sustained recovery.",
    "Employed part time; insightful; engages well in groups.",
    "Strong connection to children; willing to try medication for OUD.",
)
