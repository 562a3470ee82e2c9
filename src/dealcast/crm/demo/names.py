"""Fixed vocabularies for the demo org: people, companies, titles and picklist values.

Everything here is fictional. Buyer and seller email domains live under `example.com`
(reserved by RFC 2606) and phone numbers use the 555-0100..0199 block that the North
American Numbering Plan reserves for fiction, so the PII in the demo org is realistic in
form but belongs to nobody.
"""

from __future__ import annotations

# fmt: off
FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty",
    "Anthony", "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew",
    "Emily", "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda",
    "Brian", "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca",
    "Jason", "Sharon", "Edward", "Laura", "Jeffrey", "Cynthia", "Ryan", "Amy", "Jacob",
    "Kathleen", "Gary", "Angela", "Nicholas", "Shirley", "Eric", "Brenda", "Jonathan", "Emma",
    "Stephen", "Anna", "Larry", "Pamela", "Justin", "Nicole", "Scott", "Samantha", "Brandon",
    "Katherine", "Benjamin", "Christine", "Samuel", "Helen", "Gregory", "Debra", "Alexander",
    "Rachel", "Patrick", "Carolyn", "Frank", "Janet", "Raymond", "Maria", "Jack", "Olivia",
    "Dennis", "Heather", "Jerry", "Diane", "Priya", "Arjun", "Wei", "Mei", "Hiroshi", "Yuki",
    "Carlos", "Sofia", "Diego", "Lucia", "Ahmed", "Fatima", "Omar", "Leila", "Ivan", "Olga",
    "Pierre", "Camille", "Lars", "Ingrid", "Kwame", "Ama", "Rahul", "Ananya", "Chen", "Lin",
    "Mateo", "Valentina", "Noah", "Ava", "Liam", "Mia", "Ethan", "Isabella", "Lucas", "Chloe",
    "Aisha", "Tariq", "Nia", "Kofi", "Sven", "Astrid", "Marco", "Giulia", "Hana", "Jae",
)

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans",
    "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris",
    "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson",
    "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson",
    "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price",
    "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez",
    "Okafor", "Mensah", "Kowalski", "Novak", "Schmidt", "Muller", "Rossi", "Bianchi", "Dubois",
    "Lefebvre", "Johansson", "Lindqvist", "Tanaka", "Sato", "Suzuki", "Watanabe", "Chen", "Wang",
    "Zhang", "Liu", "Singh", "Sharma", "Gupta", "Iyer", "Haddad", "Nasser", "Petrov", "Ivanova",
    "O'Brien", "McCarthy", "Fitzgerald", "Byrne", "Da Silva", "Costa", "Santos", "Nakamura",
)

COMPANY_HEADS: tuple[str, ...] = (
    "Blue", "North", "Iron", "Bright", "Silver", "Red", "Summit", "Harbor", "Cedar", "Granite",
    "Pioneer", "Atlas", "Beacon", "Crescent", "Evergreen", "Falcon", "Golden", "Horizon",
    "Keystone", "Lakeside", "Maple", "Meridian", "Nova", "Oak", "Orion", "Pacific", "Prairie",
    "Quantum", "Redwood", "River", "Sterling", "Stone", "Sun", "Tidal", "Vertex", "West",
    "Willow", "Apex", "Birch", "Cobalt", "Delta", "Echo", "Frontier", "Glacier", "Helix",
    "Juniper", "Lumen", "Mosaic", "Onyx", "Polar",
)
COMPANY_TAILS: tuple[str, ...] = (
    "wave", "peak", "field", "bridge", "stone", "point", "gate", "line", "view", "works",
    "ridge", "crest", "path", "haven", "port", "brook", "light", "core", "forge", "wind",
)

# Salesforce's standard Account.Industry picklist (a subset) with a word for the name.
INDUSTRIES: tuple[tuple[str, str], ...] = (
    ("Technology", "Software"), ("Technology", "Systems"), ("Manufacturing", "Manufacturing"),
    ("Healthcare", "Health"), ("Finance", "Capital"), ("Banking", "Bank"),
    ("Insurance", "Insurance"), ("Retail", "Retail"), ("Transportation", "Logistics"),
    ("Energy", "Energy"), ("Telecommunications", "Networks"), ("Education", "Learning"),
    ("Biotechnology", "Biosciences"), ("Consulting", "Consulting"), ("Media", "Media"),
    ("Construction", "Builders"), ("Food & Beverage", "Foods"), ("Hospitality", "Hotels"),
    ("Utilities", "Utilities"), ("Engineering", "Engineering"), ("Chemicals", "Chemicals"),
    ("Shipping", "Freight"), ("Electronics", "Electronics"), ("Not For Profit", "Foundation"),
)
COMPANY_SUFFIXES: tuple[str, ...] = ("Inc.", "LLC", "Corp.", "Group", "Co.", "Ltd.", "")

# Titles of buyer contacts. Executives can be the Decision Maker / Economic Buyer.
EXEC_TITLES: tuple[str, ...] = (
    "CFO", "CEO", "COO", "CTO", "CIO", "Chief Revenue Officer", "VP Finance",
    "VP Engineering", "VP Operations", "VP Sales", "SVP Revenue", "General Manager",
)
STAFF_TITLES: tuple[str, ...] = (
    "Head of Procurement", "IT Director", "Operations Manager", "Director of Finance",
    "Engineering Manager", "Procurement Manager", "Sales Operations Manager",
    "Revenue Operations Lead", "Business Analyst", "Senior Data Analyst", "Controller",
    "Product Manager", "Security Engineer", "IT Manager", "Director of Sales Operations",
    "Head of Revenue Operations", "Finance Manager", "Data Engineering Lead",
    "Director of Analytics", "Solutions Architect", "Legal Counsel", "Sales Manager",
)
TECH_TITLES = frozenset(
    {"IT Director", "Engineering Manager", "Security Engineer", "IT Manager",
     "Data Engineering Lead", "Solutions Architect", "Senior Data Analyst"}
)
PROCUREMENT_TITLES = frozenset({"Head of Procurement", "Procurement Manager", "Legal Counsel"})

# Fictional competitors (the `competitor` latent driver names one of these).
COMPETITORS: tuple[str, ...] = (
    "Forecastly", "PipeIQ", "QuotaPilot", "Revenuo", "DealSight", "Pipewise", "CloseRight",
    "SignalStack",
)
COMPETITOR_WEIGHTS: tuple[float, ...] = (0.22, 0.18, 0.14, 0.12, 0.1, 0.1, 0.08, 0.06)

PRODUCTS: tuple[str, ...] = (
    "Forecasting Platform", "Pipeline Analytics", "Revenue Intelligence", "Deal Insights",
    "Enterprise Platform", "Analytics Add-on", "Team Edition", "Data Connectors",
)

# Standard Opportunity picklists.
LEAD_SOURCES: tuple[str, ...] = (
    "Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Trade Show",
    "Employee Referral", "External Referral", "Advertisement", "Seminar - Partner", "Other",
)
LEAD_SOURCE_WEIGHTS: tuple[float, ...] = (0.3, 0.08, 0.14, 0.05, 0.09, 0.06, 0.1, 0.06, 0.04, 0.08)
NEW_TYPE = "New Customer"
EXISTING_TYPES: tuple[str, ...] = (
    "Existing Customer - Upgrade", "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
)

AREA_CODES: tuple[str, ...] = (
    "212", "312", "415", "617", "646", "702", "206", "303", "404", "512", "614", "713", "720",
    "818", "858", "919", "972", "305", "480", "503", "612", "615", "704", "801",
)

SELLER_DOMAIN = "northwind.example.com"
SELLER_NAME = "Northwind Analytics"
# fmt: on
