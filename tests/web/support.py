"""A small cohort in DDI-L 3.3, written the way the bundled cohorts are (a Group holding
StudyUnits with their DataCollection, questionnaire flow and variables; shared questions,
universes, categories and code lists in a ResourcePackage), plus what the bundled cohorts
do not have: routing (IfThenElse), a statement, a missing-value category, several
versions. Every text can be replaced, so that the XSS test can inject markup anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import lxml.html

NS = ('xmlns:ddi="ddi:instance:3_3" xmlns:r="ddi:reusable:3_3" xmlns:g="ddi:group:3_3" '
      'xmlns:s="ddi:studyunit:3_3" xmlns:d="ddi:datacollection:3_3" '
      'xmlns:l="ddi:logicalproduct:3_3" xmlns:c="ddi:conceptualcomponent:3_3"')


@dataclass(frozen=True)
class Sample:
    agency: str = "fr.sample"
    slug: str = "sample"
    version: str = "1"
    title: dict[str, str] = field(default_factory=lambda: {"fr": "Cohorte exemple",
                                                           "en": "Sample cohort"})
    abstract: dict[str, str] = field(default_factory=lambda: {
        "fr": "Une petite cohorte pour les tests.", "en": "A small cohort for the tests."})
    smoke_text: dict[str, str] = field(default_factory=lambda: {
        "fr": "Fumez-vous ?", "en": "Do you smoke?"})
    smoke_label: dict[str, str] = field(default_factory=lambda: {
        "fr": "Statut tabagique", "en": "Smoking status"})
    cigs_label: dict[str, str] = field(default_factory=lambda: {
        "fr": "Cigarettes par jour", "en": "Cigarettes per day"})
    yes_label: dict[str, str] = field(default_factory=lambda: {"fr": "Oui", "en": "Yes"})
    statement: dict[str, str] = field(default_factory=lambda: {
        "fr": "Passez à la question suivante.", "en": "Go to the next question."})
    smoke_name: str = "SMOKE"
    odd_id: str = "var-W1-AGE"
    condition: str = "SMOKE = 1"
    #: Only in English: the French page shows it marked lang="en".
    age_label: dict[str, str] = field(default_factory=lambda: {"en": "Age at interview"})

    def with_(self, **changes: object) -> Sample:
        return replace(self, **changes)  # type: ignore[arg-type]

    def write(self, path: Path) -> Path:
        path.write_text(self.xml(), encoding="utf-8")
        return path

    # -- pieces ----------------------------------------------------------------------------

    def _id(self, id_: str) -> str:
        return (f"<r:Agency>{self.agency}</r:Agency><r:ID>{escape(id_)}</r:ID>"
                f"<r:Version>{self.version}</r:Version>")

    def _ref(self, element: str, id_: str, type_: str, agency: str | None = None) -> str:
        return (f"<{element}><r:Agency>{agency or self.agency}</r:Agency><r:ID>{escape(id_)}"
                f"</r:ID><r:Version>{'1' if agency else self.version}</r:Version>"
                f"<r:TypeOfObject>{type_}</r:TypeOfObject></{element}>")

    @staticmethod
    def _texts(tag: str, texts: dict[str, str]) -> str:
        return "".join(f"<{tag} xml:lang={quoteattr(lang)}>{escape(text)}</{tag}>"
                       for lang, text in texts.items())

    def _label(self, texts: dict[str, str]) -> str:
        return f"<r:Label>{self._texts('r:Content', texts)}</r:Label>"

    def _literal(self, element: str, texts: dict[str, str]) -> str:
        return "".join(
            f'<d:{element} audienceLanguage={quoteattr(lang)}><d:LiteralText>'
            f'<d:Text xml:lang={quoteattr(lang)}>{escape(text)}</d:Text></d:LiteralText>'
            f"</d:{element}>" for lang, text in texts.items())

    def _qc(self, wave: str, question: str) -> str:
        return (f"<d:QuestionConstruct>{self._id(f'qc-{wave}-{question}')}"
                f"{self._ref('r:QuestionReference', f'q-{question}', 'QuestionItem')}"
                f"</d:QuestionConstruct>")

    def _cc_ref(self, element: str, id_: str, type_: str) -> str:
        return self._ref(element, id_, type_)

    def _variable(self, id_: str, name: str, label: dict[str, str], question: str,
                  representation: str, access: str = "open") -> str:
        return (f"<l:Variable>{self._id(id_)}"
                f"<r:UserAttributePair><r:AttributeKey>catalogue:access</r:AttributeKey>"
                f"<r:AttributeValue>{access}</r:AttributeValue></r:UserAttributePair>"
                f"<l:VariableName><r:String>{escape(name)}</r:String></l:VariableName>"
                f"{self._label(label)}"
                f"{self._ref('r:UniverseReference', 'u-ALL', 'Universe')}"
                f"{self._ref('r:ConceptReference', 'tobacco', 'Concept', 'fr.cohortes')}"
                f"{self._ref('r:QuestionReference', f'q-{question}', 'QuestionItem')}"
                f"<l:VariableRepresentation>{representation}</l:VariableRepresentation>"
                f"</l:Variable>")

    def _code_representation(self) -> str:
        return ("<r:CodeRepresentation>"
                + self._ref("r:CodeListReference", "cl-YESNO", "CodeList")
                + "</r:CodeRepresentation>")

    @staticmethod
    def _numeric(missing: str = "") -> str:
        attribute = f' missingValue="{missing}"' if missing else ""
        return (f"<r:NumericRepresentation{attribute}><r:NumericTypeCode>Integer"
                f"</r:NumericTypeCode></r:NumericRepresentation>")

    def _wave(self, wave: str, year: str, title: dict[str, str], routing: bool) -> str:
        constructs = [self._qc(wave, "SMOKE")]
        sequence = [self._cc_ref("d:ControlConstructReference", f"qc-{wave}-SMOKE",
                                 "QuestionConstruct")]
        variables = [self._variable(f"var-{wave}-SMOKE", f"{self.smoke_name}_{wave}",
                                    self.smoke_label, "SMOKE", self._code_representation())]
        if routing:
            constructs += [
                self._qc(wave, "CIGS"),
                f"<d:StatementItem>{self._id(f'st-{wave}')}"
                f"{self._literal('DisplayText', self.statement)}</d:StatementItem>",
                f"<d:IfThenElse>{self._id(f'if-{wave}-SMOKE')}<d:IfCondition><r:Command>"
                f"<r:ProgramLanguage>pseudo-code</r:ProgramLanguage><r:CommandContent>"
                f"{escape(self.condition)}</r:CommandContent></r:Command></d:IfCondition>"
                + self._cc_ref("d:ThenConstructReference", f"qc-{wave}-CIGS",
                               "QuestionConstruct")
                + self._cc_ref("d:ElseConstructReference", f"st-{wave}", "StatementItem")
                + "</d:IfThenElse>",
                self._qc(wave, "AGE"),
            ]
            sequence += [
                self._cc_ref("d:ControlConstructReference", f"if-{wave}-SMOKE", "IfThenElse"),
                self._cc_ref("d:ControlConstructReference", f"qc-{wave}-AGE",
                             "QuestionConstruct"),
            ]
            variables += [
                self._variable(f"var-{wave}-CIGS", f"CIGS_{wave}", self.cigs_label, "CIGS",
                               self._numeric("99")),
                self._variable(self.odd_id if wave == "W1" else f"var-{wave}-AGE",
                               f"AGE_{wave}", self.age_label, "AGE", self._numeric(),
                               access="casd"),
            ]
        return (
            f"<s:StudyUnit>{self._id(f'su-{wave}')}<r:Citation><r:Title>"
            f"{self._texts('r:String', title)}</r:Title></r:Citation>"
            f"<d:DataCollection>{self._id(f'dc-{wave}')}"
            f"<d:CollectionEvent>{self._id(f'ce-{wave}')}<d:DataCollectionDate>"
            f"<r:StartDate>{year}</r:StartDate><r:EndDate>{year}</r:EndDate>"
            f"</d:DataCollectionDate><d:ModeOfCollection>{self._id(f'mode-{wave}')}"
            f"<d:TypeOfModeOfCollection>self-administered</d:TypeOfModeOfCollection>"
            f"<r:Description>{self._texts('r:Content', {'fr': 'Auto-questionnaire', 'en': 'Self-administered questionnaire'})}"  # noqa: E501
            f"</r:Description></d:ModeOfCollection>"
            f"{self._ref('d:InstrumentReference', f'inst-{wave}', 'Instrument')}"
            f"</d:CollectionEvent>"
            f"<d:ControlConstructScheme>{self._id(f'ccs-{wave}')}"
            f"<d:Sequence>{self._id(f'seq-{wave}')}{''.join(sequence)}</d:Sequence>"
            f"{''.join(constructs)}</d:ControlConstructScheme>"
            f"<d:InstrumentScheme>{self._id(f'is-{wave}')}<d:Instrument>"
            f"{self._id(f'inst-{wave}')}<d:InstrumentName><r:String>Q{wave}</r:String>"
            f"</d:InstrumentName>{self._label({'fr': f'Questionnaire {wave}', 'en': f'Questionnaire {wave}'})}"  # noqa: E501
            f"{self._cc_ref('d:ControlConstructReference', f'seq-{wave}', 'Sequence')}"
            f"</d:Instrument></d:InstrumentScheme></d:DataCollection>"
            f"<l:LogicalProduct>{self._id(f'lp-{wave}')}<l:VariableScheme>"
            f"{self._id(f'vs-{wave}')}{''.join(variables)}</l:VariableScheme>"
            f"</l:LogicalProduct></s:StudyUnit>")

    def _question(self, name: str, texts: dict[str, str], domain: str) -> str:
        return (f"<d:QuestionItem>{self._id(f'q-{name}')}<d:QuestionItemName><r:String>"
                f"{name}</r:String></d:QuestionItemName>{self._literal('QuestionText', texts)}"
                f"{domain}"
                f"{self._ref('r:ConceptReference', 'tobacco', 'Concept', 'fr.cohortes')}"
                f"</d:QuestionItem>")

    def xml(self) -> str:
        categories = [("YES", "1", self.yes_label, ""), ("NO", "2", {"fr": "Non", "en": "No"}, ""),
                      ("DK", "9", {"fr": "Ne sait pas", "en": "Don't know"}, ' isMissing="true"')]
        category_xml = "".join(
            f"<l:Category{attr}>{self._id(f'cat-{key}')}{self._label(label)}</l:Category>"
            for key, _, label, attr in categories)
        codes = "".join(
            f"<l:Code>{self._id(f'code-{key}')}"
            f"{self._ref('r:CategoryReference', f'cat-{key}', 'Category')}"
            f"<r:Value>{value}</r:Value></l:Code>" for key, value, _, _ in categories)
        code_domain = ("<d:CodeDomain>" + self._ref("r:CodeListReference", "cl-YESNO",
                                                    "CodeList") + "</d:CodeDomain>")
        numeric = ("<d:NumericDomain><r:NumericTypeCode>Integer</r:NumericTypeCode>"
                   "</d:NumericDomain>")
        return (
            f"<?xml version='1.0' encoding='UTF-8'?>\n<ddi:DDIInstance {NS}>"
            f"{self._id(f'{self.slug}-publication')}"
            f"<g:Group>{self._id(self.slug)}"
            f"<r:UserAttributePair><r:AttributeKey>catalogue:participants</r:AttributeKey>"
            f"<r:AttributeValue>1234</r:AttributeValue></r:UserAttributePair>"
            f"<r:UserAttributePair><r:AttributeKey>catalogue:slug</r:AttributeKey>"
            f"<r:AttributeValue>{escape(self.slug)}</r:AttributeValue></r:UserAttributePair>"
            f"<r:Citation><r:Title>{self._texts('r:String', self.title)}</r:Title></r:Citation>"
            f"<r:Abstract>{self._texts('r:Content', self.abstract)}</r:Abstract>"
            f"<r:RequiredResourcePackages>"
            f"{self._ref('r:ResourcePackageReference', f'{self.slug}-resources', 'ResourcePackage')}"  # noqa: E501
            f"</r:RequiredResourcePackages>"
            + self._wave("W1", "2015", {"fr": "Vague 1 (2015)", "en": "Wave 1 (2015)"}, True)
            + self._wave("W2", "2018", {"fr": "Vague 2 (2018)", "en": "Wave 2 (2018)"}, False)
            + "</g:Group>"
            f"<g:ResourcePackage>{self._id(f'{self.slug}-resources')}"
            f"<c:UniverseScheme>{self._id(f'{self.slug}-universes')}<c:Universe>"
            f"{self._id('u-ALL')}{self._label({'fr': 'Tous', 'en': 'Everyone'})}"
            f"</c:Universe></c:UniverseScheme>"
            f"<d:QuestionScheme>{self._id(f'{self.slug}-questions')}"
            + self._question("SMOKE", self.smoke_text, code_domain)
            + self._question("CIGS", {"fr": "Combien de cigarettes par jour ?",
                                      "en": "How many cigarettes a day?"}, numeric)
            + self._question("AGE", {"fr": "Quel âge avez-vous ?", "en": "How old are you?"},
                             numeric)
            + "</d:QuestionScheme>"
            f"<l:CategoryScheme>{self._id(f'{self.slug}-categories')}{category_xml}"
            f"</l:CategoryScheme>"
            f"<l:CodeListScheme>{self._id(f'{self.slug}-codelists')}<l:CodeList>"
            f"{self._id('cl-YESNO')}{codes}</l:CodeList></l:CodeListScheme>"
            "</g:ResourcePackage></ddi:DDIInstance>\n")


# -- reading pages ---------------------------------------------------------------------------

def text_of(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def main_text(doc: lxml.html.HtmlElement) -> str:
    return text_of(doc.get_element_by_id("main"))


def links(doc: lxml.html.HtmlElement) -> list[str]:
    return [a.get("href") for a in doc.iter("a") if a.get("href")]
