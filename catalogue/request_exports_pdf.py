"""An access request as a PDF (reportlab): paginated, with a footer on every page, the
project, the data-requested tables (one per wave), the CASD estimate, the history and
the comments the reader may see.

Every piece of text typed by people goes through :func:`_text`, which escapes it: the
PDF shows ``<script>`` as those characters, never as markup for reportlab's paragraphs.
"""

from __future__ import annotations

import io
import threading
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    KeepTogether,
    LongTable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)

from catalogue.accounts_model import User
from catalogue.browse import Catalogue
from catalogue.casd import format_euros
from catalogue.model import LangText
from catalogue.requests import RequestView, view_request
from catalogue.requests_selection import SelectedVariable

_FONT, _BOLD = "CatalogueSans", "CatalogueSans-Bold"
_FONT_CANDIDATES = (
    (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
     Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")),
    (Path(reportlab.__path__[0]) / "fonts" / "Vera.ttf",
     Path(reportlab.__path__[0]) / "fonts" / "VeraBd.ttf"),
)
_fonts_lock = threading.Lock()
_fonts_ready = False

WORDS = {
    "en": {
        "request": "Access request {id} to {cohort}", "state": "State", "revision": "Revision",
        "applicant": "Applicant", "project": "Project", "submitted": "Submitted",
        "decided": "Decided", "protocol": "Protocol", "objectives": "Scientific objectives",
        "method": "Method", "expected": "Expected results",
        "additional": "Additional data collection", "none": "None",
        "team": "Scientific team", "name": "Name", "role": "Role",
        "affiliation": "Affiliation", "email": "E-mail", "pi": "PI", "funding": "Funding",
        "funding_project": "Funding of the project", "funding_access": "Funding of access costs",
        "industrial": "Industrial funding", "yes": "Yes", "no": "No",
        "unanswered": "Not answered", "commitments": "Commitments and charter",
        "publish": "Results will be made public", "destruction": "A destruction report "
        "will be sent at the end", "charter": "The PI accepts the cohort's charter",
        "data": "Data requested", "variables": "{n} variable(s), {casd} CASD-only",
        "group": "Justification for this group", "label": "Label",
        "urn": "URN (version)", "access": "Access", "justification": "Justification",
        "newer": "A newer version ({version}) exists. Changes: {changes}",
        "gone": "This version is no longer in the catalogue.",
        "withdrawn": "The cohort has withdrawn the publication of this version.",
        "casd": "CASD secure workspace",
        "casd_required": "This request includes CASD-only (SNDS-linked) variables: they are "
        "only accessible in a CASD secure workspace, which must be contracted with CASD.",
        "estimate": "Estimate from the price list {list} ({source})", "line": "Item",
        "formula": "Calculation", "amount": "Amount (EUR)", "total": "Total",
        "per_user": "Per user", "no_estimate": "No estimate: the CASD inputs are incomplete.",
        "history": "History", "when": "When", "who": "Who", "what": "What",
        "why": "Why", "comments": "Comments", "internal": "internal to the cohort team",
        "missing": "Still to complete", "page": "page {n}", "to": "to",
    },
    "fr": {
        "request": "Demande d'accès {id} à {cohort}", "state": "État", "revision": "Révision",
        "applicant": "Demandeur", "project": "Projet", "submitted": "Soumise",
        "decided": "Décidée", "protocol": "Protocole",
        "objectives": "Objectifs scientifiques", "method": "Méthode",
        "expected": "Résultats attendus",
        "additional": "Recueil de données complémentaires", "none": "Aucun",
        "team": "Équipe scientifique", "name": "Nom", "role": "Rôle",
        "affiliation": "Affiliation", "email": "Courriel", "pi": "IP",
        "funding": "Financement", "funding_project": "Financement du projet",
        "funding_access": "Financement des coûts d'accès",
        "industrial": "Financement industriel", "yes": "Oui", "no": "Non",
        "unanswered": "Sans réponse", "commitments": "Engagements et charte",
        "publish": "Les résultats seront rendus publics",
        "destruction": "Un rapport de destruction sera envoyé à la fin",
        "charter": "L'IP accepte la charte de la cohorte", "data": "Données demandées",
        "variables": "{n} variable(s), dont {casd} CASD", "group": "Justification du groupe",
        "label": "Libellé", "urn": "URN (version)", "access": "Accès",
        "justification": "Justification",
        "newer": "Une version plus récente ({version}) existe. Changements : {changes}",
        "gone": "Cette version n'est plus dans le catalogue.",
        "withdrawn": "La cohorte a retiré la publication de cette version.",
        "casd": "Bulle sécurisée du CASD",
        "casd_required": "Cette demande comprend des variables accessibles uniquement au CASD "
        "(issues du SNDS) : elles ne sont accessibles que dans une bulle sécurisée du CASD, "
        "à contractualiser avec le CASD.",
        "estimate": "Estimation selon la grille {list} ({source})", "line": "Poste",
        "formula": "Calcul", "amount": "Montant (EUR)", "total": "Total",
        "per_user": "Par utilisateur",
        "no_estimate": "Pas d'estimation : les paramètres CASD sont incomplets.",
        "history": "Historique", "when": "Quand", "who": "Qui", "what": "Quoi",
        "why": "Pourquoi", "comments": "Commentaires", "internal": "interne à l'équipe",
        "missing": "Reste à compléter", "page": "page {n}", "to": "vers",
    },
}


def _register_fonts() -> None:
    global _fonts_ready
    with _fonts_lock:
        if _fonts_ready:
            return
        regular, bold = next((r, b) for r, b in _FONT_CANDIDATES if r.is_file()
                             and b.is_file())
        pdfmetrics.registerFont(TTFont(_FONT, str(regular)))
        pdfmetrics.registerFont(TTFont(_BOLD, str(bold)))
        _fonts_ready = True


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=_FONT, fontSize=9.5, leading=12.5,
                          alignment=TA_LEFT, spaceAfter=3)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10, spaceAfter=0),
        "label": ParagraphStyle("label", parent=body, fontName=_BOLD, fontSize=8.5,
                                leading=11, spaceAfter=0),
        "h1": ParagraphStyle("h1", parent=body, fontName=_BOLD, fontSize=16, leading=20,
                             spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=body, fontName=_BOLD, fontSize=12.5, leading=16,
                             spaceBefore=10, spaceAfter=4, keepWithNext=1,
                             textColor=colors.HexColor("#1f3a5f")),
        "h3": ParagraphStyle("h3", parent=body, fontName=_BOLD, fontSize=10.5, leading=13,
                             spaceBefore=6, spaceAfter=3, keepWithNext=1),
    }


def _text(value: str) -> str:
    """People's text as paragraph content: escaped, line breaks kept."""
    return escape(value).replace("\r\n", "\n").replace("\n", "<br/>")


def _best(text: LangText, lang: str) -> str:
    return text.best(lang, "en", "fr")


class _Writer:
    """Paragraph makers in one language and one set of styles."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.words = WORDS.get(lang, WORDS["en"])
        self.styles = _styles()

    def p(self, text: str, style: str = "body") -> Paragraph:
        return Paragraph(_text(text), self.styles[style])

    def b(self, text: str) -> Paragraph:
        return Paragraph(_text(text), self.styles["label"])

    def yes_no(self, value: bool | None) -> str:
        if value is None:
            return self.words["unanswered"]
        return self.words["yes" if value else "no"]


def _table(rows: list[list[Paragraph]], widths: list[float],
           spans: list[int] | None = None) -> LongTable:
    table = LongTable(rows, colWidths=widths, repeatRows=1)
    style = [("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
             ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
             ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3)]
    for row in spans or ():
        style.append(("SPAN", (0, row), (-1, row)))
        style.append(("BACKGROUND", (0, row), (-1, row), colors.HexColor("#fff4d6")))
    table.setStyle(TableStyle(style))
    return table


def request_pdf(catalogue: Catalogue, actor: User | None, request_id: int, *,
                lang: str = "en", today: date | None = None) -> bytes:
    """The request as a PDF, for its applicant or its cohort's reviewers."""
    return view_pdf(catalogue, view_request(catalogue, actor, request_id, today), lang=lang)


def view_pdf(catalogue: Catalogue, view: RequestView, *, lang: str = "en") -> bytes:
    _register_fonts()
    w = _Writer(lang)
    words, p, b = w.words, w.p, w.b
    request = view.request
    fields = request.project
    cohort = _best(view.data.label, lang) or request.cohort
    heading = words["request"].format(id=request.id, cohort=cohort)
    yes_no = w.yes_no

    width = A4[0] - 36 * mm
    story: list[object] = ([p(fields.title, "h1"), p(heading, "h3")] if fields.title.strip()
                           else [p(heading, "h1")])
    applicant = catalogue.store.user_by_id(request.applicant_id)
    facts = [
        (words["state"], request.state.value.replace("_", " ")),
        (words["revision"], str(request.revision)),
        (words["applicant"], f"{applicant.name} <{applicant.email}>, {applicant.affiliation}"
         if applicant else str(request.applicant_id)),
        (words["project"], str(request.project_id)),
        (words["submitted"], request.submitted_at or "-"),
        (words["decided"], request.decided_at or "-"),
    ]
    story.append(_table([[b(k), p(v)] for k, v in facts], [40 * mm, width - 40 * mm]))
    if view.problems:
        story.append(p(words["missing"], "h2"))
        story.extend(p(f"{e.field}: {e.message}", "small") for e in view.problems)

    story.append(p(words["protocol"], "h2"))
    for key, value in (("objectives", fields.protocol.objectives),
                       ("method", fields.protocol.method),
                       ("expected", fields.protocol.expected_results),
                       ("additional", fields.protocol.additional_data_collection
                        or words["none"])):
        story.extend([p(words[key], "h3"), p(value or "-")])

    story.append(p(words["team"], "h2"))
    team_rows = [[b(words["name"]), b(words["role"]), b(words["affiliation"]),
                  b(words["email"]), b(words["pi"])]]
    team_rows.extend([p(m.name, "small"), p(m.role, "small"), p(m.affiliation, "small"),
                      p(m.email, "small"), p(words["yes"] if m.principal_investigator else "",
                                             "small")] for m in fields.team)
    story.append(_table(team_rows, [38 * mm, 34 * mm, 48 * mm, 40 * mm, width - 160 * mm]))

    story.append(p(words["funding"], "h2"))
    funding = [(words["funding_project"], fields.funding.project),
               (words["funding_access"], fields.funding.access_costs),
               (words["industrial"], yes_no(fields.funding.industrial)
                + (f": {fields.funding.industrial_details}"
                   if fields.funding.industrial_details else ""))]
    story.append(_table([[b(k), p(v or "-")] for k, v in funding], [50 * mm, width - 50 * mm]))
    story.append(p(words["commitments"], "h2"))
    commitments = [(words["publish"], yes_no(fields.commitments.publish_results)),
                   (words["destruction"], yes_no(fields.commitments.destruction_report)),
                   (words["charter"], yes_no(request.section.charter_accepted))]
    story.append(_table([[b(k), p(v)] for k, v in commitments], [120 * mm, width - 120 * mm]))

    story.append(p(words["data"], "h2"))
    story.append(p(words["variables"].format(n=view.data.count, casd=view.data.casd_count)))
    for wave in view.data.waves:
        title = f"{_best(wave.label, lang)} ({wave.count})"
        block: list[object] = [p(title, "h3")]
        group = request.section.group_justification(wave.urn)
        if group:
            block.append(p(f"{words['group']}: {group}"))
        story.append(KeepTogether(block))
        story.append(_variables_table(w, wave.variables, width))

    if view.casd_required:
        story.append(p(words["casd"], "h2"))
        story.append(p(words["casd_required"]))
        found = view.casd_estimate
        if found is None:
            story.append(p(words["no_estimate"]))
        else:
            story.append(p(words["estimate"].format(list=found.price_list.id,
                                                    source=found.price_list.source), "small"))
            rows = [[b(words["line"]), b(words["formula"]), b(words["amount"])]]
            rows.extend([p(line.label, "small"), p(line.formula, "small"),
                         p(format_euros(line.amount), "small")] for line in found.lines)
            rows.append([b(words["total"]), p(""), b(format_euros(found.total))])
            rows.append([b(words["per_user"]), p(""), p(format_euros(found.per_user))])
            story.append(_table(rows, [78 * mm, 62 * mm, width - 140 * mm]))
            story.extend(p(note, "small") for note in found.notes)

    if view.events:
        story.append(p(words["history"], "h2"))
        names: dict[int, str] = {}
        rows = [[b(words["when"]), b(words["who"]), b(words["what"]), b(words["why"])]]
        for event in view.events:
            who = names.get(event.actor_id)
            if who is None:
                user = catalogue.store.user_by_id(event.actor_id)
                who = names[event.actor_id] = user.name if user else str(event.actor_id)
            rows.append([p(event.at, "small"), p(who, "small"),
                         p(f"{event.action.value.replace('_', ' ')} ({words['to']} "
                           f"{event.to_state.value.replace('_', ' ')})", "small"),
                         p(event.reason, "small")])
        story.append(_table(rows, [34 * mm, 34 * mm, 44 * mm, width - 112 * mm]))
    if view.comments:
        story.append(p(words["comments"], "h2"))
        for comment in view.comments:
            user = catalogue.store.user_by_id(comment.author_id)
            who = user.name if user else str(comment.author_id)
            flag = f" ({words['internal']})" if comment.internal else ""
            story.append(p(f"{comment.at}, {who}{flag}", "label"))
            story.append(p(comment.text))

    buffer = io.BytesIO()
    footer = f"{heading}  |  cohort-catalogue"

    def on_page(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(_FONT, 7.5)
        canvas.setFillColor(colors.HexColor("#5b6770"))
        canvas.drawString(18 * mm, 10 * mm, footer[:140])
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, words["page"].format(n=doc.page))
        canvas.restoreState()

    document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm,
                                 rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=18 * mm,
                                 title=heading, author="cohort-catalogue",
                                 subject=fields.title)
    document.build(story + [Spacer(1, 2 * mm)], onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


def _variables_table(w: _Writer, lines: tuple[SelectedVariable, ...], width: float
                     ) -> LongTable:
    words, p, b = w.words, w.p, w.b
    rows = [[b(words["name"]), b(words["label"]), b(words["urn"]), b(words["access"]),
             b(words["justification"])]]
    spans = []
    for line in lines:
        rows.append([p(line.name or line.id, "small"), p(_best(line.label, w.lang), "small"),
                     p(line.urn, "small"), p(line.access or "?", "small"),
                     p(line.justification, "small")])
        note = ""
        if not line.found:
            note = words["gone"]
        elif line.drift is not None:
            changes = "; ".join(f"{c.field}: {c.before!r} -> {c.after!r}"
                                for c in line.drift.changes) or "-"
            note = words["newer"].format(version=line.drift.latest_version, changes=changes)
        if line.withdrawn:
            note = f"{words['withdrawn']} {note}".strip()
        if note:
            spans.append(len(rows))
            rows.append([p(note, "small"), p(""), p(""), p(""), p("")])
    return _table(rows, [30 * mm, 46 * mm, 50 * mm, 14 * mm, width - 140 * mm], spans)
