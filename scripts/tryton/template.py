"""Builds a Tryton database for Kontor's tests: one company (PLN), a fiscal year with
invoice sequences, a chart of accounts, Polish VAT rates, a payment term, countries, an
invoice payment method, products mirroring Kontor's demo catalogue with stock in the
warehouse, and invoices rendered as PDF.

Usage: python template.py <directory> <admin password>

Run with the Tryton virtualenv's Python while no server uses the directory.
"""

import datetime
import os
import pathlib
import subprocess
import sys
from decimal import Decimal

DATABASE = "kontor"

# (template code, name, list price excl. VAT, VAT %, [variant suffixes], stock per variant)
CATALOGUE = [
    ("TSH", "Koszulka bawełniana", "64.23", 23, ["-S-WHT", "-M-BLK", "-L-NVY"], 40),
    ("MUG", "Kubek ceramiczny", "32.44", 23, ["-330", "-450"], 60),
    ("BOOK", "Książka „Kuchnia polska”", "61.81", 5, [""], 25),
    ("HONEY", "Miód wielokwiatowy 400 g", "30.95", 5, [""], 30),
    ("BAG", "Plecak miejski", "202.44", 23, ["-BLK"], 12),
]
SERVICES = [("SHIP-COURIER", "Dostawa kurierem", "12.19", 23), ("ROUNDING", "Zaokrąglenie", "0", 0)]


def write_config(directory: pathlib.Path) -> pathlib.Path:
    conf = directory / "trytond.conf"
    conf.write_text(
        "[database]\n"
        "uri = sqlite://\n"
        f"path = {directory}\n"
        "\n[web]\nlisten = 127.0.0.1:8000\n"
    )
    return conf


def initialise(directory: pathlib.Path, conf: pathlib.Path, password: str) -> None:
    (directory / f"{DATABASE}.sqlite").touch()
    passfile = directory / "admin-password"
    passfile.write_text(password)
    env = dict(os.environ, TRYTONPASSFILE=str(passfile))
    bin_dir = pathlib.Path(sys.executable).parent
    subprocess.run(
        [
            str(bin_dir / "trytond-admin"), "-c", str(conf), "-d", DATABASE, "--all",
            "--email", "admin@example.com",
            "-u", "party", "product", "stock", "sale", "account_invoice", "sale_price_list",
            "account_product", "--activate-dependencies",
        ],
        check=True,
        env=env,
    )
    passfile.unlink()


def populate(conf: pathlib.Path) -> None:
    from proteus import Model, config
    from trytond.modules.account.tests.tools import (
        create_chart, create_fiscalyear, create_tax, get_accounts)
    from trytond.modules.account_invoice.tests.tools import (
        create_payment_term, set_fiscalyear_invoice_sequences)
    from trytond.modules.company.tests.tools import create_company, get_company
    from trytond.modules.currency.tests.tools import get_currency

    config.set_trytond(DATABASE, config_file=str(conf))
    Party = Model.get("party.party")
    owner = Party(name="Kontor Goods Sp. z o.o.")
    owner.save()
    create_company(party=owner, currency=get_currency("PLN"))
    company = get_company()
    today = datetime.date.today()
    for year in (today.year, today.year + 1):
        fiscalyear = set_fiscalyear_invoice_sequences(
            create_fiscalyear(company, today=datetime.date(year, 6, 1)))
        fiscalyear.click("create_period")
    create_chart(company)
    accounts = get_accounts(company)

    taxes = {}
    for rate in (23, 8, 5, 0):
        tax = create_tax(Decimal(rate) / 100, company)
        tax.name = tax.description = f"VAT {rate}%"
        tax.save()
        taxes[rate] = tax
    create_payment_term().save()

    Country = Model.get("country.country")
    for code, name in (("PL", "Poland"), ("DE", "Germany"), ("CZ", "Czechia")):
        Country(code=code, name=name).save()

    Journal = Model.get("account.journal")
    cash_journal, = Journal.find([("type", "=", "cash")])
    PaymentMethod = Model.get("account.invoice.payment.method")
    PaymentMethod(name="Card", journal=cash_journal, credit_account=accounts["cash"],
                  debit_account=accounts["cash"]).save()

    Category = Model.get("product.category")
    categories = {}
    for rate, tax in taxes.items():
        category = Category(name=f"Sales {rate}%", accounting=True,
                            account_revenue=accounts["revenue"], account_expense=accounts["expense"])
        category.customer_taxes.append(tax)
        category.save()
        categories[rate] = category

    Uom = Model.get("product.uom")
    unit, = Uom.find([("name", "=", "Unit")])
    Template = Model.get("product.template")
    Location = Model.get("stock.location")
    Inventory = Model.get("stock.inventory")
    storage, = Location.find([("code", "=", "STO")])
    inventory = Inventory(location=storage)
    for code, name, price, rate, suffixes, quantity in CATALOGUE:
        template = Template(name=name, code=code, type="goods", salable=True, default_uom=unit,
                            sale_uom=unit, list_price=Decimal(price), account_category=categories[rate])
        template.products[0].suffix_code = suffixes[0]
        for suffix in suffixes[1:]:
            template.products.new(suffix_code=suffix)
        template.save()
        for product in template.products:
            line = inventory.lines.new(product=product)
            line.quantity = quantity
    inventory.click("confirm")
    for code, name, price, rate in SERVICES:
        template = Template(name=name, code=code, type="service", salable=True, default_uom=unit,
                            sale_uom=unit, list_price=Decimal(price), account_category=categories[rate])
        template.save()

    # A wholesale price list: 15 % off the list price.
    PriceList = Model.get("product.price_list")
    wholesale = PriceList(name="Hurt", price="list_price", tax_included=False)
    wholesale.lines.new(formula="unit_price * Decimal('0.85')")
    wholesale.save()

    # Invoices come out as PDF (LibreOffice converts Tryton's ODT).
    Action = Model.get("ir.action.report")
    for action in Action.find([("report_name", "=", "account.invoice")]):
        action.extension = "pdf"
        action.save()


def main() -> None:
    directory = pathlib.Path(sys.argv[1]).resolve()
    password = sys.argv[2]
    directory.mkdir(parents=True, exist_ok=True)
    conf = write_config(directory)
    initialise(directory, conf, password)
    populate(conf)
    print(f"Tryton template ready in {directory}")


if __name__ == "__main__":
    main()
