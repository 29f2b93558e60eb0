"""What people read for the contract's codes: Latvian first, English beside it (statements, pages, mails)."""

from __future__ import annotations

from .contracts.documents import EXPENSE_CATEGORIES
from .contracts.plans import PROVIDER_TYPES

# DOMAIN.md's compensations, consultations and preparation, as the programme's forms name them
CATEGORY_LABELS: dict[str, tuple[str, str]] = {
    "public_transport": ("Sabiedriskā transporta biļetes", "Public transport tickets"),
    "learning_materials": ("Individuālie mācību līdzekļi", "Individual learning materials"),
    "accommodation": ("Dienesta viesnīca", "Accommodation (dormitory)"),
    "meals": ("Ēdināšana", "Meals"),
    "personal_items": ("Personīgās lietošanas priekšmeti", "Personal-use items"),
    "special_transport": ("Specializētais transports", "Special transport"),
    "consultations": ("Konsultācijas", "Consultations"),
    "plan_preparation": ("Plāna sagatavošana un uzraudzība", "Plan preparation and supervision"),
}
PROVIDER_TYPE_LABELS: dict[str, tuple[str, str]] = {
    "teacher": ("Pedagogs (mācību priekšmetā)", "Teacher (subject)"),
    "psychologist": ("Psihologs", "Psychologist"),
    "social_pedagogue": ("Sociālais pedagogs", "Social pedagogue"),
    "teachers_assistant": ("Pedagoga palīgs", "Teacher's assistant"),
    "special_education_teacher": ("Speciālais pedagogs", "Special education teacher"),
    "sign_language_interpreter": ("Surdotulks", "Sign-language interpreter"),
    "assistant": ("Asistents", "Assistant"),
    "occupational_therapist": ("Ergoterapeits", "Occupational therapist"),
    "speech_therapist": ("Logopēds", "Speech therapist"),
}
assert set(CATEGORY_LABELS) == set(EXPENSE_CATEGORIES), "every category of the contract has its label"
assert set(PROVIDER_TYPE_LABELS) == set(PROVIDER_TYPES), "every provider type of the contract has its label"
